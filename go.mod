module github.com/sessionspec/sessionspec

go 1.26

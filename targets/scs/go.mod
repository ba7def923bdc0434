module github.com/sessionspec/sessionspec/targets/scs

go 1.26

require github.com/alexedwards/scs/v2 v2.9.0

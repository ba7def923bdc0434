module github.com/sessionspec/sessionspec/targets/gorilla

go 1.26.0

require (
	github.com/gorilla/securecookie v1.1.2
	github.com/gorilla/sessions v1.4.0
)

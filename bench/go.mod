module github.com/sessionspec/sessionspec/bench

go 1.26.0

require (
	github.com/benbjohnson/clock v1.3.5
	github.com/coder/quartz v0.3.1
	github.com/jonboulle/clockwork v0.5.0
	github.com/sessionspec/sessionspec v0.0.0
	gonum.org/v1/plot v0.17.0
	k8s.io/utils v0.0.0-20260707023825-cf1189d6abe3
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/coder/websocket v1.8.15 // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/text v0.38.0 // indirect
)

replace github.com/sessionspec/sessionspec => ../

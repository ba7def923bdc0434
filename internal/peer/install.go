package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessionspec/sessionspec/internal/oneline"
)

// Command runs a short shell command (versions, build, an install step)
// in dir and returns its output, stdout and stderr together (the last
// outputMax bytes). It is stopped, its whole process group, when ctx ends
// or after limit; an error carries the output's last lines.
func Command(ctx context.Context, dir, command string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = dir
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	text := strings.TrimRight(out.String(), "\n")
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("did not finish within %s", limit)
		} else if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return text, fmt.Errorf("`%s` in %s: %v%s", oneline.Clip(command, 120), dir, err, quoteTail(text))
	}
	return text, nil
}

// quoteTail is ": line | line" of the last lines of out, or "".
func quoteTail(out string) string {
	if out == "" {
		return ""
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	for i, l := range lines {
		lines[i] = oneline.Clip(l, 300)
	}
	return ": " + strings.Join(lines, " | ")
}

const outputMax = 64 << 10

// tailBuffer keeps the last outputMax bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > outputMax {
		t.b = append(t.b[:0], t.b[len(t.b)-outputMax:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "…" + string(t.b)
	}
	return string(t.b)
}

// debianInstalled reports whether a Debian package is installed.
var debianInstalled = func(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", pkg).Output()
	return err == nil && string(out) == "installed"
}

// npmStale says whether npm ci must run in dir: no node_modules yet, or a
// package-lock.json newer than npm's own record of the last install.
func npmStale(dir string) bool {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return true
	}
	stamp, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	return err != nil || lock.ModTime().After(stamp.ModTime())
}

// Missing lists what the peer needs and does not have, one phrase each.
func (m *Manifest) Missing() []string {
	var out []string
	if pkgs := m.missingDebian(); len(pkgs) > 0 {
		out = append(out, "Debian packages "+strings.Join(pkgs, " "))
	}
	if m.Install.Npm && npmStale(m.Dir) {
		out = append(out, "npm ci in "+m.Dir+" (node_modules missing or older than package-lock.json)")
	}
	return out
}

func (m *Manifest) missingDebian() []string {
	var out []string
	for _, p := range m.Install.Debian {
		if !debianInstalled(p) {
			out = append(out, p)
		}
	}
	return out
}

// CheckInstalled is an error naming what is missing and how to install it.
func (m *Manifest) CheckInstalled() error {
	if miss := m.Missing(); len(miss) > 0 {
		return fmt.Errorf("%s needs %s: add --install (or run make deps-targets)", m.Name, strings.Join(miss, "; "))
	}
	return nil
}

// InstallTimeout bounds each install step.
const InstallTimeout = 15 * time.Minute

// InstallMissing installs what the peer needs and does not have (idempotent:
// with everything there it runs only go mod download, if asked for),
// saying each step in one line on log.
func (m *Manifest) InstallMissing(ctx context.Context, log io.Writer) error {
	if pkgs := m.missingDebian(); len(pkgs) > 0 {
		sudo := ""
		if os.Geteuid() != 0 {
			if _, err := exec.LookPath("sudo"); err != nil {
				return fmt.Errorf("%s: Debian packages %s are missing and this is not root and there is no sudo", m.Name, strings.Join(pkgs, " "))
			}
			sudo = "sudo "
		}
		opts := "-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0"
		fmt.Fprintf(log, "%s: apt-get update; apt-get install %s\n", m.Name, strings.Join(pkgs, " "))
		cmd := fmt.Sprintf("%sapt-get %s update -qq && %senv DEBIAN_FRONTEND=noninteractive apt-get %s install -y -qq --no-install-recommends %s",
			sudo, opts, sudo, opts, strings.Join(pkgs, " "))
		if _, err := Command(ctx, m.Dir, cmd, InstallTimeout); err != nil {
			return fmt.Errorf("%s: %v", m.Name, err)
		}
		if still := m.missingDebian(); len(still) > 0 {
			return fmt.Errorf("%s: Debian packages %s still not installed after apt-get", m.Name, strings.Join(still, " "))
		}
	}
	if m.Install.Npm && npmStale(m.Dir) {
		if _, err := exec.LookPath("npm"); err != nil {
			return fmt.Errorf("%s: npm not on PATH (Debian nodejs/npm; make deps)", m.Name)
		}
		fmt.Fprintf(log, "%s: npm ci in %s\n", m.Name, m.Dir)
		if _, err := Command(ctx, m.Dir, "npm ci --no-audit --no-fund --loglevel=error", InstallTimeout); err != nil {
			return fmt.Errorf("%s: %v", m.Name, err)
		}
		if npmStale(m.Dir) {
			return fmt.Errorf("%s: node_modules still older than package-lock.json after npm ci", m.Name)
		}
	}
	if m.Install.Go {
		if _, err := Command(ctx, m.Dir, "go mod download", InstallTimeout); err != nil {
			return fmt.Errorf("%s: %v", m.Name, err)
		}
	}
	return nil
}

// VersionsTimeout and BuildTimeout bound the versions and build commands.
const (
	VersionsTimeout = time.Minute
	BuildTimeout    = 10 * time.Minute
)

// VersionsLine runs the versions command: one line naming what runs.
// Failing is an error (the peer is not installed as it should be).
func (m *Manifest) VersionsLine(ctx context.Context, v Values) (string, error) {
	cmd, err := v.Shell(m.Versions)
	if err != nil {
		return "", fmt.Errorf("%s: versions: %v", m.File, err)
	}
	out, err := Command(ctx, m.Dir, cmd, VersionsTimeout)
	if err != nil {
		return "", fmt.Errorf("%s: versions: %v (add --install, or run make deps-targets)", m.Name, err)
	}
	if out = oneline.Clip(out, 400); out == "" {
		return "", errors.New(m.Name + ": versions: the command printed nothing")
	}
	return out, nil
}

// RunBuild runs the build command, if any.
func (m *Manifest) RunBuild(ctx context.Context, v Values) error {
	if strings.TrimSpace(m.Build) == "" {
		return nil
	}
	cmd, err := v.Shell(m.Build)
	if err != nil {
		return fmt.Errorf("%s: build: %v", m.File, err)
	}
	// One build of a peer at a time: two modes checked at once (make
	// matrix) would otherwise replace each other's output while the other
	// starts from it.
	if err := os.MkdirAll(v.Bin, 0o755); err != nil {
		return fmt.Errorf("%s: build: %v", m.Name, err)
	}
	lock, err := os.OpenFile(filepath.Join(v.Bin, ".build-"+m.Name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("%s: build: %v", m.Name, err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("%s: build: locking %s: %v", m.Name, lock.Name(), err)
	}
	if _, err := Command(ctx, m.Dir, cmd, BuildTimeout); err != nil {
		return fmt.Errorf("%s: build: %v", m.Name, err)
	}
	return nil
}

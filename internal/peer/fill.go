package peer

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Placeholders are the names a command or a flag may hold in braces.
var Placeholders = []string{"dir", "bin", "sessionspec", "timeout", "timeout_s", "timeout_ms", "redis", "replica", "mode"}

// placeholder matches {name}; a shell's ${VAR} or ${VAR:-x} (upper case,
// or with an operator) is left alone.
var placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

func checkPlaceholders(field, s string) error {
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(Placeholders, m[1]) {
			return fmt.Errorf("%s: unknown placeholder {%s} (known: %s)", field, m[1], strings.Join(Placeholders, ", "))
		}
	}
	return nil
}

// Values are what the placeholders stand for in one replica's commands.
type Values struct {
	Dir, Bin, Sessionspec string
	Timeout               time.Duration
	Redis                 string // "" when the run has no redis service
	Replica               int
	Mode                  string
}

func (v Values) lookup(name string) (string, error) {
	switch name {
	case "dir":
		return v.Dir, nil
	case "bin":
		return v.Bin, nil
	case "sessionspec":
		return v.Sessionspec, nil
	case "timeout":
		return v.Timeout.String(), nil
	case "timeout_s":
		if v.Timeout%time.Second != 0 {
			return "", fmt.Errorf("{timeout_s}: the timeout %s is not whole seconds", v.Timeout)
		}
		return strconv.FormatInt(int64(v.Timeout/time.Second), 10), nil
	case "timeout_ms":
		if v.Timeout%time.Millisecond != 0 {
			return "", fmt.Errorf("{timeout_ms}: the timeout %s is not whole milliseconds", v.Timeout)
		}
		return strconv.FormatInt(v.Timeout.Milliseconds(), 10), nil
	case "redis":
		if v.Redis == "" {
			return "", fmt.Errorf("{redis}: the run starts no redis (services: [\"redis\"])")
		}
		return v.Redis, nil
	case "replica":
		return strconv.Itoa(v.Replica), nil
	case "mode":
		return v.Mode, nil
	}
	return "", fmt.Errorf("unknown placeholder {%s}", name)
}

// Shell fills the placeholders of a shell command, quoting each value
// that is not a plain word for sh.
func (v Values) Shell(cmd string) (string, error) { return v.fill(cmd, true) }

// Arg fills the placeholders of one argument (a check flag), as is.
func (v Values) Arg(s string) (string, error) { return v.fill(s, false) }

func (v Values) fill(s string, quote bool) (string, error) {
	var err error
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		val, e := v.lookup(m[1 : len(m)-1])
		if e != nil {
			if err == nil {
				err = e
			}
			return m
		}
		if quote {
			return ShellQuote(val)
		}
		return val
	})
	return out, err
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// ShellQuote quotes s for sh when it is not a plain word.
func ShellQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

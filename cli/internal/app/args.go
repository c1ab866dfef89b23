package app

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Interspersed reorders args so that the flags of the command named come
// before its positional arguments, since urfave/cli v2 stops reading flags
// at the first positional one: "blueprint add chat --prefix /chat" becomes
// "blueprint add --prefix /chat chat". Everything after "--" is kept as it
// is, and so is a shell-completion request.
func Interspersed(a *cli.App, args []string) []string {
	if len(args) < 2 || slices.Contains(args, "--generate-bash-completion") {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	flags := a.Flags
	cmds := a.Commands
	// The global flags, then the chain of (sub)commands.
	for {
		i := 0
		for i < len(rest) && strings.HasPrefix(rest[i], "-") && rest[i] != "--" {
			i += flagLen(flags, rest[i:])
		}
		out = append(out, rest[:min(i, len(rest))]...)
		rest = rest[min(i, len(rest)):]
		if len(rest) == 0 {
			return out
		}
		cmd := findCommand(cmds, rest[0])
		if cmd == nil {
			return append(out, rest...) // not ours to reorder: urfave reports it
		}
		out = append(out, rest[0])
		rest = rest[1:]
		flags, cmds = cmd.Flags, cmd.Subcommands
		if len(cmds) == 0 {
			break
		}
	}
	var fl, pos []string
	for i := 0; i < len(rest); {
		arg := rest[i]
		if arg == "--" {
			pos = append(pos, rest[i:]...)
			break
		}
		if strings.HasPrefix(arg, "-") && arg != "-" {
			n := min(flagLen(flags, rest[i:]), len(rest)-i)
			fl = append(fl, rest[i:i+n]...)
			i += n
			continue
		}
		pos = append(pos, arg)
		i++
	}
	out = append(out, fl...)
	return append(out, pos...)
}

// flagLen returns how many arguments the flag at args[0] takes: 1 for
// "--name=value" and boolean flags, 2 for other flags.
func flagLen(flags []cli.Flag, args []string) int {
	name := strings.TrimLeft(args[0], "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		if _, ok := f.(*cli.BoolFlag); ok {
			return 1
		}
		return 2
	}
	if name == "help" || name == "h" {
		return 1
	}
	return 1 // unknown: let urfave report it
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

package app

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

const bashCompletion = `# bash completion for nows; load with: source <(nows completion bash)
_nows_complete() {
	local cur opts
	COMPREPLY=()
	cur="${COMP_WORDS[COMP_CWORD]}"
	if [[ "$cur" == "-"* ]]; then
		opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		opts=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
	return 0
}
complete -o bashdefault -o default -F _nows_complete nows
`

const zshCompletion = `#compdef nows
# zsh completion for nows; load with: source <(nows completion zsh)
_nows() {
	local -a opts
	local cur=${words[-1]}
	if [[ "$cur" == "-"* ]]; then
		opts=("${(@f)$(${words[@]:0:#words[@]-1} "$cur" --generate-bash-completion 2>/dev/null)}")
	else
		opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ "${opts[1]}" != "" ]]; then
		_describe 'values' opts
	else
		_files
	fi
}
compdef _nows nows
`

func completionCommand(a *cli.App) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "SHELL",
		Description: `completion prints the script that makes the shell complete nows commands
and flags.

Examples:

   source <(nows completion bash)                    # in ~/.bashrc
   source <(nows completion zsh)                     # in ~/.zshrc
   nows completion fish > ~/.config/fish/completions/nows.fish`,
		Action: func(c *cli.Context) error {
			sh, err := args(c, "SHELL")
			if err != nil {
				return err
			}
			switch strings.ToLower(sh[0]) {
			case "bash":
				_, err = fmt.Fprint(a.Writer, bashCompletion)
			case "zsh":
				_, err = fmt.Fprint(a.Writer, zshCompletion)
			case "fish":
				var s string
				if s, err = a.ToFishCompletion(); err == nil {
					_, err = fmt.Fprint(a.Writer, s)
				}
			default:
				return usageErrorf("completion: unknown shell %q: use bash, zsh or fish", sh[0])
			}
			return err
		},
	}
}

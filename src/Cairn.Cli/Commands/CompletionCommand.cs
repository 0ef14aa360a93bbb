using System.CommandLine;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn completion bash|zsh</c>: prints a script that asks <c>cairn</c> itself for completions through
/// System.CommandLine's suggest directive (<c>cairn [suggest:N] "line"</c>), so completions always match the installed version.
/// </summary>
internal static class CompletionCommand
{
    public static Command Create(CliContext app)
    {
        var shell = new Argument<string>("shell") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script: add 'source <(cairn completion bash)' to ~/.bashrc (or zsh to ~/.zshrc).") { shell };
        command.SetHandler(app, (parse, ctx, _) =>
        {
            ctx.Out.Write(parse.GetValue(shell) == "zsh" ? Zsh : Bash);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    // COMP_LINE and COMP_POINT are the line being typed and the cursor's offset in it; the suggest directive takes both.
    private const string Bash = """
        # cairn completion for bash: source <(cairn completion bash)
        _cairn_complete() {
            local IFS=$'\n'
            local line="${COMP_LINE:0:$COMP_POINT}"
            COMPREPLY=( $(compgen -W "$(cairn "[suggest:${#line}]" "$line" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}") )
        }
        complete -o default -F _cairn_complete cairn

        """;

    private const string Zsh = """
        # cairn completion for zsh: source <(cairn completion zsh)
        _cairn_complete() {
            local line="${BUFFER[1,$CURSOR]}"
            local -a suggestions
            suggestions=( ${(f)"$(cairn "[suggest:${#line}]" "$line" 2>/dev/null)"} )
            compadd -- $suggestions
        }
        compdef _cairn_complete cairn

        """;
}

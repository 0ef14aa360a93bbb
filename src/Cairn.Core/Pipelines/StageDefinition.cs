namespace Cairn.Pipelines;

/// <summary>What a stage writes: a file or folder, cached or not.</summary>
/// <param name="Path">Repository-relative path ('/' separated).</param>
/// <param name="Cache">Whether the output goes into the cache (outs: yes; metrics and plots: no, unless set).</param>
/// <param name="Persist">Keep the previous output when the stage runs again (not deleted before the run).</param>
/// <param name="Kind">Out, metric or plot.</param>
public sealed record OutputSpec(string Path, bool Cache, bool Persist, OutputKind Kind);

/// <summary>The role of an output.</summary>
public enum OutputKind
{
    /// <summary>A data or model output.</summary>
    Out,
    /// <summary>A metrics file (JSON, YAML or CSV).</summary>
    Metric,
    /// <summary>A plot data file (CSV or JSON records).</summary>
    Plot,
}

/// <summary>A parameter a stage reads: a dotted key of a params file.</summary>
/// <param name="File">Params file, repository-relative (default <c>params.yaml</c>).</param>
/// <param name="Key">Dotted key such as <c>train.lr</c>.</param>
public sealed record ParamRef(string File, string Key);

/// <summary>One stage of <c>cairn.yaml</c>, after foreach/matrix expansion.</summary>
/// <param name="Name">Stage name; expanded stages are <c>name@item</c>.</param>
/// <param name="Cmd">Shell command, run from the repository root.</param>
/// <param name="Deps">Files or folders the stage reads.</param>
/// <param name="Params">Parameters the stage reads.</param>
/// <param name="Outputs">Outs, metrics and plots.</param>
public sealed record StageDefinition(string Name, string Cmd, IReadOnlyList<string> Deps, IReadOnlyList<ParamRef> Params,
    IReadOnlyList<OutputSpec> Outputs)
{
    /// <summary>Outputs of kind <see cref="OutputKind.Metric"/>.</summary>
    public IEnumerable<OutputSpec> Metrics => Outputs.Where(o => o.Kind == OutputKind.Metric);

    /// <summary>Outputs of kind <see cref="OutputKind.Plot"/>.</summary>
    public IEnumerable<OutputSpec> Plots => Outputs.Where(o => o.Kind == OutputKind.Plot);
}

/// <summary>Repository-relative path helpers shared by the pipeline code.</summary>
internal static class RelPath
{
    /// <summary>True when <paramref name="a"/> equals <paramref name="b"/> or one lies inside the other.</summary>
    public static bool Overlaps(string a, string b) => a == b || IsUnder(a, b) || IsUnder(b, a);

    /// <summary>True when <paramref name="path"/> lies strictly inside folder <paramref name="folder"/>.</summary>
    public static bool IsUnder(string path, string folder)
        => path.Length > folder.Length && path.StartsWith(folder, StringComparison.Ordinal) && path[folder.Length] == '/';

    /// <summary>Normalises a path written in <c>cairn.yaml</c>; errors name the file and field.</summary>
    public static string Normalize(string raw, string where)
    {
        string p = raw.Trim().Replace('\\', '/');
        while (p.StartsWith("./", StringComparison.Ordinal)) p = p[2..];
        p = p.TrimEnd('/');
        if (p.Length == 0 || p.StartsWith('/') || p.Split('/').Any(s => s is ".." or "." or "") || (p.Length > 1 && p[1] == ':'))
        {
            throw new InvalidParameterValueException($"{where}: '{raw}' must be a relative path inside the repository (no '..', no leading '/')");
        }
        return p;
    }
}

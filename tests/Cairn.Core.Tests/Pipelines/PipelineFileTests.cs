using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Pipelines;

public sealed class PipelineFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Pipeline Load(string yaml)
    {
        _dir.Write("cairn.yaml", yaml);
        return Pipeline.Load(_dir.Path);
    }

    [Fact]
    public void Foreach_and_matrix_expand_with_interpolation()
    {
        var stages = PipelineFile.Parse("""
            stages:
              train:
                foreach: [us, eu]
                do:
                  cmd: train ${item}
                  outs:
                  - models/${item}.bin
              sweep:
                matrix:
                  lr: [0.1, 0.01]
                  depth: [3, 5]
                cmd: fit --lr ${item.lr} --depth ${item.depth}
                metrics:
                - m/${item.lr}-${item.depth}.json
              regions:
                foreach:
                  north: {size: 10}
                  south: {size: 20}
                do:
                  cmd: gen ${key} ${item.size}
            """, "cairn.yaml");

        Assert.Equal(["train@us", "train@eu", "sweep@0.1-3", "sweep@0.1-5", "sweep@0.01-3", "sweep@0.01-5", "regions@north", "regions@south"],
            stages.Select(s => s.Name));
        Assert.Equal("models/eu.bin", stages[1].Outputs.Single().Path);
        Assert.Equal("fit --lr 0.01 --depth 5", stages[5].Cmd);
        Assert.Equal(new OutputSpec("m/0.01-5.json", false, false, OutputKind.Metric), stages[5].Outputs.Single());
        Assert.Equal("gen south 20", stages[7].Cmd);
    }

    [Fact]
    public void A_cycle_is_refused_naming_the_stages()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => Load("""
            stages:
              a:
                cmd: x
                deps: [b.out]
                outs: [a.out]
              b:
                cmd: y
                deps: [a.out]
                outs: [b.out]
            """));
        Assert.Equal("cairn.yaml: the stages form a cycle: a -> b -> a (each reads an out of the one before)", e.Message);
    }

    [Fact]
    public void A_missing_dep_is_refused()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => Load("stages:\n  train:\n    cmd: x\n    deps: [data/none.csv]\n"));
        Assert.Equal("cairn.yaml: stage 'train': dep 'data/none.csv' does not exist and no stage writes it", e.Message);
    }

    [Fact]
    public void Two_stages_writing_the_same_out_are_refused()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => Load("stages:\n  a:\n    cmd: x\n    outs: [model.bin]\n  b:\n    cmd: y\n    outs: [model.bin]\n"));
        Assert.Equal("cairn.yaml: two stages write the same out 'model.bin': 'a' and 'b' (an out may have one producer)", e.Message);
        e = Assert.Throws<InvalidParameterValueException>(() => Load("stages:\n  a:\n    cmd: x\n    outs: [data]\n  b:\n    cmd: y\n    outs: [data/part.csv]\n"));
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void An_out_that_is_a_dep_of_its_own_stage_is_refused()
    {
        _dir.Write("data/x.csv", "1");
        var e = Assert.Throws<InvalidParameterValueException>(() => Load("stages:\n  a:\n    cmd: x\n    deps: [data/x.csv]\n    outs: [data]\n"));
        Assert.Equal("cairn.yaml: stage 'a': 'data/x.csv' is both a dep and an out ('data') of the same stage; a stage cannot read what it writes", e.Message);
    }

    [Fact]
    public void An_unknown_param_key_is_refused_naming_stage_and_file()
    {
        _dir.Write("params.yaml", "train:\n  lr: 0.1\n");
        var e = Assert.Throws<InvalidParameterValueException>(() => Load("stages:\n  train:\n    cmd: x\n    params: [train.lrr]\n"));
        Assert.Equal("cairn.yaml: stage 'train': param 'train.lrr' is not defined in params.yaml", e.Message);
    }

    [Fact]
    public void Unknown_fields_variables_and_bad_paths_are_refused()
    {
        Assert.Equal("cairn.yaml: stages.a: unknown field 'dep' (allowed: cmd, deps, params, outs, metrics, plots, foreach, do, matrix, desc)",
            Assert.Throws<InvalidParameterValueException>(() => PipelineFile.Parse("stages:\n  a:\n    cmd: x\n    dep: [y]\n", "cairn.yaml")).Message);
        Assert.Contains("cairn.yaml: stages.a.cmd: unknown variable '${item}'",
            Assert.Throws<InvalidParameterValueException>(() => PipelineFile.Parse("stages:\n  a:\n    cmd: x ${item}\n", "cairn.yaml")).Message);
        Assert.Contains("stages.a.outs: '../x' must be a relative path",
            Assert.Throws<InvalidParameterValueException>(() => PipelineFile.Parse("stages:\n  a:\n    cmd: x\n    outs: [../x]\n", "cairn.yaml")).Message);
        Assert.Equal("cairn.yaml: stages.a: field 'cmd' is required",
            Assert.Throws<InvalidParameterValueException>(() => PipelineFile.Parse("stages:\n  a:\n    outs: [x]\n", "cairn.yaml")).Message);
    }

    [Fact]
    public void Dag_renders_text_mermaid_and_dot()
    {
        _dir.Write("raw.csv", "1");
        var p = Load("stages:\n  prep:\n    cmd: p\n    deps: [raw.csv]\n    outs: [prep.csv]\n  train:\n    cmd: t\n    deps: [prep.csv]\n    outs: [model]\n");
        Assert.Equal(["prep", "train"], p.Stages.Select(s => s.Name));
        Assert.Contains("train  <-  prep", p.ToText());
        Assert.Contains("s0 --> s1", p.ToMermaid());
        Assert.Contains("\"prep\" -> \"train\";", p.ToDot());
    }

    [Fact]
    public void Lock_file_round_trips()
    {
        var lf = new LockFile();
        lf.Stages["train@a"] = new StageLock("python train.py --x 'a b'",
            [new LockedPath("data/raw", Cairn.Data.EntryKind.Dir, new string('a', 64), 10, 2)],
            new Dictionary<string, IReadOnlyDictionary<string, string>> { ["params.yaml"] = new Dictionary<string, string> { ["train.lr"] = "0.1", ["name"] = "a: b" } },
            [new LockedPath("model.bin", Cairn.Data.EntryKind.File, new string('b', 64), 5)]);
        var back = LockFile.Parse(lf.ToYaml(), "cairn.lock");
        var s = back.Stages["train@a"];
        Assert.Equal("python train.py --x 'a b'", s.Cmd);
        Assert.Equal(lf.Stages["train@a"].Deps, s.Deps);
        Assert.Equal(lf.Stages["train@a"].Outs, s.Outs);
        Assert.Equal("a: b", s.Params["params.yaml"]["name"]);
        Assert.Equal(lf.ToYaml(), back.ToYaml());
    }

    public static TheoryData<string> MultiLineValues => new()
    {
        "echo one\necho two\n",
        "echo one\necho two",
        "echo one\n\n\n",
        "  indented first\nsecond\n",
        "\tsh -c x\n\ty\n",
        "a\n   \nb\n",
        "a\n\nb",
        "\nstarts with a break",
        "it's \"quoted\" \\ back\n# not a comment\n- not a list\n",
        "crlf\r\nline\r\n",
        "bell\u0007\nx",
        "\n",
        "\n\n",
        " ",
        "tab\tin one line",
        "ctrl\u0001 in one line",
    };

    [Theory]
    [MemberData(nameof(MultiLineValues))]
    public void Lock_file_reads_back_every_cmd_and_param_value_exactly(string value)
    {
        var lf = new LockFile();
        lf.Stages["s"] = new StageLock(value, [],
            new Dictionary<string, IReadOnlyDictionary<string, string>> { ["params.yaml"] = new Dictionary<string, string> { ["k"] = value } }, []);
        string yaml = lf.ToYaml();
        var back = LockFile.Parse(yaml, "cairn.lock").Stages["s"];
        Assert.Equal(value, back.Cmd);
        Assert.Equal(value, back.Params["params.yaml"]["k"]);
        Assert.Equal(yaml, LockFile.Parse(yaml, "cairn.lock").ToYaml());
    }

    [Fact]
    public void Lock_file_writes_a_multi_line_cmd_as_a_literal_block()
    {
        var lf = new LockFile();
        lf.Stages["s"] = new StageLock("echo one\necho two\n", [], new Dictionary<string, IReadOnlyDictionary<string, string>>(), []);
        Assert.Contains("    cmd: |\n      echo one\n      echo two\n", lf.ToYaml());
    }

    [Fact]
    public void Params_overrides_change_values_and_refuse_unknown_keys()
    {
        string yaml = "train:\n  lr: 0.1\n  trees: 100\nseed: 1\n";
        var changed = ParamsFile.Parse(ParamsFile.ApplyOverrides(yaml, "params.yaml", new Dictionary<string, string> { ["train.lr"] = "0.3" }), "x");
        Assert.Equal("0.3", changed.Find("train.lr"));
        Assert.Equal("100", changed.Find("train.trees"));
        var e = Assert.Throws<InvalidParameterValueException>(() => ParamsFile.ApplyOverrides(yaml, "params.yaml", new Dictionary<string, string> { ["train.depth"] = "3" }));
        Assert.StartsWith("--set-param train.depth: params.yaml has no key 'train.depth'", e.Message);
    }
}

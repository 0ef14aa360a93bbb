namespace Cairn.ML.Models;

/// <summary>
/// A loaded model that scores batches: the same interface over an ML.NET chain and an ONNX graph.
/// Implementations are thread-safe for <see cref="Predict"/> unless they say otherwise.
/// </summary>
public interface IModelPredictor : IDisposable
{
    /// <summary>The flavor this predictor runs (<c>mlnet</c> or <c>onnx</c>).</summary>
    string Flavor { get; }

    /// <summary>The columns (or tensors) a batch must hold.</summary>
    IReadOnlyList<ColumnSpec> Inputs { get; }

    /// <summary>The columns (or tensors) <see cref="Predict"/> returns.</summary>
    IReadOnlyList<ColumnSpec> Outputs { get; }

    /// <summary>Scores every row of <paramref name="input"/>; a missing or mistyped column is an error naming it.</summary>
    ColumnBatch Predict(ColumnBatch input);
}

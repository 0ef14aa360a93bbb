using Microsoft.ML.Trainers.FastTree;

namespace Cairn.ML.Models;

/// <summary>
/// A tree copied once into one array of nodes (ML.NET exposes its nodes through read-only lists), walked per row: a
/// node's slot, threshold and children sit together, so a step of the walk reads one place.
/// </summary>
internal sealed class FlatTree
{
    private readonly Node[] _nodes;
    private readonly double[] _leaves;

    // The same tree for walks without branches: leaves are nodes too (numbered after the splits, each its own two children),
    // and a node's children sit at 2i (at or below the threshold) and 2i + 1.
    private readonly int[] _slots;
    private readonly float[] _thresholds;
    private readonly int[] _children;

    public FlatTree(RegressionTreeBase tree)
    {
        _nodes = new Node[tree.LeftChild.Count];
        for (var i = 0; i < _nodes.Length; i++)
            _nodes[i] = new Node(tree.NumericalSplitFeatureIndexes[i], tree.NumericalSplitThresholds[i], tree.LeftChild[i], tree.RightChild[i]);
        _leaves = [.. tree.LeafValues];
        var count = _nodes.Length + _leaves.Length;
        _slots = new int[count];
        _thresholds = new float[count];
        _children = new int[2 * count];
        for (var i = 0; i < count; i++)
        {
            if (i < _nodes.Length)
            {
                (_slots[i], _thresholds[i]) = (_nodes[i].Slot, _nodes[i].Threshold);
                _children[2 * i] = _nodes[i].Left >= 0 ? _nodes[i].Left : _nodes.Length + ~_nodes[i].Left;
                _children[2 * i + 1] = _nodes[i].Right >= 0 ? _nodes[i].Right : _nodes.Length + ~_nodes[i].Right;
            }
            else _children[2 * i] = _children[2 * i + 1] = i;
        }
    }

    private readonly record struct Node(int Slot, float Threshold, int Left, int Right);

    /// <summary>The largest slot a split reads, or -1 for a single leaf.</summary>
    public int MaxSlot => _nodes.Length == 0 ? -1 : _nodes.Max(n => n.Slot);

    /// <summary>Whether any split of the tree reads a slot in [<paramref name="start"/>, start + <paramref name="length"/>).</summary>
    public bool SplitsOn(int start, int length) => Array.Exists(_nodes, n => n.Slot >= start && n.Slot < start + length);

    /// <summary>The leaf value of a row: at each node, a value at or below the threshold goes left (as ML.NET's trees decide).</summary>
    public double Output(ReadOnlySpan<float> features)
    {
        var nodes = _nodes;
        if (nodes.Length == 0) return _leaves[0];
        var next = 0;
        do
        {
            var node = nodes[next];
            next = features[node.Slot] <= node.Threshold ? node.Left : node.Right;
        }
        while (next >= 0);
        return _leaves[~next];
    }

    /// <summary>
    /// Adds <paramref name="weight"/> times the leaf value of each of <paramref name="rows"/> rows (a row-major matrix of
    /// <paramref name="width"/> features) to its sum. Four rows walk the tree side by side, so the processor overlaps their
    /// dependent loads instead of waiting on one path at a time; each row's result is <see cref="Output(ReadOnlySpan{float})"/>'s.
    /// </summary>
    public void Accumulate(ReadOnlySpan<float> matrix, int width, int rows, Span<double> sums, double weight)
    {
        var nodes = _nodes;
        var leaves = _leaves;
        if (nodes.Length == 0)
        {
            for (var r = 0; r < rows; r++) sums[r] += weight * leaves[0];
            return;
        }
        var slots = _slots;
        var thresholds = _thresholds;
        var children = _children;
        var splits = nodes.Length;
        var row = 0;
        for (; row + 4 <= rows; row += 4)
        {
            int o0 = row * width, o1 = o0 + width, o2 = o1 + width, o3 = o2 + width;
            int a = 0, b = 0, c = 0, d = 0;
            // A step without branches for each row (a leaf steps to itself) until the four have all reached a leaf. A value
            // at or below the threshold goes to the first child; above it, or NaN, to the second, as Output decides.
            while (Math.Min(Math.Min(a, b), Math.Min(c, d)) < splits)
            {
                a = children[2 * a + (matrix[o0 + slots[a]] <= thresholds[a] ? 0 : 1)];
                b = children[2 * b + (matrix[o1 + slots[b]] <= thresholds[b] ? 0 : 1)];
                c = children[2 * c + (matrix[o2 + slots[c]] <= thresholds[c] ? 0 : 1)];
                d = children[2 * d + (matrix[o3 + slots[d]] <= thresholds[d] ? 0 : 1)];
            }
            sums[row] += weight * leaves[a - splits];
            sums[row + 1] += weight * leaves[b - splits];
            sums[row + 2] += weight * leaves[c - splits];
            sums[row + 3] += weight * leaves[d - splits];
        }
        for (; row < rows; row++) sums[row] += weight * Output(matrix.Slice(row * width, width));
    }

    /// <summary>
    /// As <see cref="Output(ReadOnlySpan{float})"/>, and the features (bits of <paramref name="featureOfSlot"/>'s values,
    /// each below 64) whose slots the row's path reads: a row whose path reads none of a feature's slots ends in the
    /// same leaf whatever that feature's values are.
    /// </summary>
    public double Output(ReadOnlySpan<float> features, int[] featureOfSlot, out ulong read)
    {
        read = 0;
        var nodes = _nodes;
        if (nodes.Length == 0) return _leaves[0];
        var next = 0;
        do
        {
            var node = nodes[next];
            read |= 1UL << featureOfSlot[node.Slot];
            next = features[node.Slot] <= node.Threshold ? node.Left : node.Right;
        }
        while (next >= 0);
        return _leaves[~next];
    }
}

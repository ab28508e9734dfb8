namespace ActiveCalls.Service.Commands;

/// <summary>One command node of <c>commands.active-calls.&lt;domain&gt;</c>: its node name and the name disco shows.</summary>
public sealed record CommandNodeInfo(string Node, string Name);

/// <summary>The four command nodes of the Active-Calls component, in the order disco lists them.</summary>
public static class CommandNodes
{
    public const string Create = "create";
    public const string Terminate = "terminate";
    public const string Transfer = "transfer";
    public const string Cancel = "cancel";

    public static IReadOnlyList<CommandNodeInfo> All { get; } =
    [
        new(Create, "Create Call"),
        new(Terminate, "Terminate Call"),
        new(Transfer, "Transfer Call"),
        new(Cancel, "Cancel Call"),
    ];

    /// <summary>The node's entry, or <see langword="null"/> when the component has no such node.</summary>
    public static CommandNodeInfo? Find(string? node) => All.FirstOrDefault(n => n.Node == node);
}

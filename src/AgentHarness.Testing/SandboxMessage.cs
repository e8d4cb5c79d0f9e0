namespace AgentHarness.Testing;

/// <summary>One chat message of a request received by the sandbox.</summary>
/// <param name="Role">The message's role as sent, such as <c>system</c>, <c>user</c>, <c>assistant</c> or <c>tool</c>.</param>
/// <param name="Content">
/// The message's text: a string content as is, the text parts of an array content joined by new lines,
/// or empty when the message has no text (for example an assistant message with tool calls only).
/// </param>
public sealed record SandboxMessage(string Role, string Content);

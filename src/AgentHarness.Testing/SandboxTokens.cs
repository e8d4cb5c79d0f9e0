namespace AgentHarness.Testing;

/// <summary>The sandbox's deterministic token estimate.</summary>
/// <remarks>
/// Real tokenizers differ per model; tests need a count they can predict instead, so the sandbox counts
/// one token per four characters, rounded up: <c>0</c> for <see langword="null"/> or empty text, otherwise
/// <c>max(1, ceil(length / 4))</c> where the length is in UTF-16 code units. The same estimate drives
/// usage figures, context windows and the truncation of answers to <c>max_tokens</c>.
/// </remarks>
public static class SandboxTokens
{
    internal const int CharsPerToken = 4;

    /// <summary>Estimates the number of tokens in <paramref name="text"/>.</summary>
    /// <param name="text">The text to measure; may be <see langword="null"/>.</param>
    /// <returns><c>0</c> for <see langword="null"/> or empty text, otherwise <c>ceil(length / 4)</c>, at least <c>1</c>.</returns>
    public static int Count(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : (int)(((long)text.Length + CharsPerToken - 1) / CharsPerToken);
}

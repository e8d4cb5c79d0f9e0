using System.ComponentModel;
using System.Reflection;
using System.Text;
using System.Text.Json.Serialization;
using OpenAI.Chat;

namespace AgentHarness.Agents;

/// <summary>
/// Typed helpers for the steps agents make most: classify, review, summarize. Each sets the task of
/// the current <see cref="AgentRun"/> (<c>classify</c>, <c>review</c>, <c>summarize</c>) for its call.
/// </summary>
public static class ChatClientTaskExtensions
{
    /// <summary>The task name <see cref="ClassifyAsync{TEnum}"/> sets.</summary>
    public const string ClassifyTask = "classify";

    /// <summary>The task name <see cref="ReviewAsync"/> sets.</summary>
    public const string ReviewTask = "review";

    /// <summary>The task name <see cref="SummarizeAsync"/> sets.</summary>
    public const string SummarizeTask = "summarize";

    private const int ClassifyMaxOutputTokens = 16;

    /// <summary>
    /// Classifies a text into one value of <typeparamref name="TEnum"/>. The prompt lists each
    /// value's label (from <see cref="JsonStringEnumMemberNameAttribute"/>, else the member name in
    /// kebab case: <c>BugFix</c> is <c>bug-fix</c>) with its <see cref="DescriptionAttribute"/>; the
    /// output is capped at 16 tokens and the answer must be exactly one label (case, surrounding
    /// quotes and a final period aside).
    /// </summary>
    /// <typeparam name="TEnum">The categories.</typeparam>
    /// <param name="client">The chat client, typically a small model.</param>
    /// <param name="input">The text to classify.</param>
    /// <param name="instructions">Extra guidance added to the prompt, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The category.</returns>
    /// <exception cref="ClassificationException">The answer is not one of the labels.</exception>
    public static async Task<TEnum> ClassifyAsync<TEnum>(this ChatClient client, string input, string? instructions = null, CancellationToken cancellationToken = default)
        where TEnum : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(input);
        var categories = Categories<TEnum>.All;
        if (categories.Length == 0)
        {
            throw new ArgumentException($"The enum {typeof(TEnum).Name} has no values to classify into.", nameof(TEnum));
        }

        var prompt = new StringBuilder("Classify the input into exactly one of these categories:\n");
        foreach (var category in categories)
        {
            prompt.Append("- ").Append(category.Label);
            if (category.Description is { Length: > 0 } description)
            {
                prompt.Append(": ").Append(description);
            }

            prompt.Append('\n');
        }

        if (!string.IsNullOrWhiteSpace(instructions))
        {
            prompt.Append(instructions.Trim()).Append('\n');
        }

        prompt.Append("Answer with the category name only, nothing else.");

        var answer = await CompleteAsync(
            client,
            ClassifyTask,
            prompt.ToString(),
            input,
            // No temperature: reasoning models refuse one; the strict parse is what guards the answer.
            new ChatCompletionOptions { MaxOutputTokenCount = ClassifyMaxOutputTokens },
            cancellationToken).ConfigureAwait(false);

        var normalized = Normalize(answer);
        foreach (var category in categories)
        {
            if (normalized.Equals(category.Label, StringComparison.OrdinalIgnoreCase)
                || normalized.Equals(category.Name, StringComparison.OrdinalIgnoreCase))
            {
                return category.Value;
            }
        }

        throw new ClassificationException(answer, [.. categories.Select(static c => c.Label)]);
    }

    /// <summary>
    /// Gets the label <see cref="ClassifyAsync{TEnum}"/> sends and accepts for a value: its
    /// <see cref="JsonStringEnumMemberNameAttribute"/> name, else the member name in kebab case
    /// (<c>BugFix</c> is <c>bug-fix</c>, <c>Refactor</c> is <c>refactor</c>). Pass it on, for example
    /// to <see cref="ReviewAsync"/>, instead of <see cref="Enum.ToString()"/>, which gives the member name.
    /// </summary>
    /// <typeparam name="TEnum">The categories.</typeparam>
    /// <param name="value">A named value of <typeparamref name="TEnum"/>.</param>
    /// <returns>The value's label.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is not a named value of <typeparamref name="TEnum"/>.</exception>
    public static string LabelOf<TEnum>(TEnum value)
        where TEnum : struct, Enum
    {
        foreach (var category in Categories<TEnum>.All)
        {
            if (EqualityComparer<TEnum>.Default.Equals(category.Value, value))
            {
                return category.Label;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(value), value, $"{value} is not a named value of {typeof(TEnum).Name}, so it has no label.");
    }

    /// <summary>Reviews a code change and returns actionable feedback.</summary>
    /// <param name="client">The chat client, typically a frontier model or a policy.</param>
    /// <param name="diff">The change to review, usually a unified diff.</param>
    /// <param name="category">What kind of change it is (for example the label of a classification's result, from <see cref="LabelOf{TEnum}"/>), or <see langword="null"/>.</param>
    /// <param name="maxOutputTokens">The cap on the review's length.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The review text.</returns>
    public static Task<string> ReviewAsync(this ChatClient client, string diff, string? category = null, int maxOutputTokens = 500, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(diff);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutputTokens, 1);
        var system = category is { Length: > 0 }
            ? $"You are a senior code reviewer. This change is a {category}. Provide actionable feedback in 3 bullet points."
            : "You are a senior code reviewer. Provide actionable feedback in 3 bullet points.";
        return CompleteAsync(client, ReviewTask, system, diff, new ChatCompletionOptions { MaxOutputTokenCount = maxOutputTokens }, cancellationToken);
    }

    /// <summary>Summarizes a text in one sentence.</summary>
    /// <param name="client">The chat client, typically a fast model.</param>
    /// <param name="text">The text to summarize.</param>
    /// <param name="maxOutputTokens">The cap on the summary's length.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The summary.</returns>
    public static Task<string> SummarizeAsync(this ChatClient client, string text, int maxOutputTokens = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutputTokens, 1);
        return CompleteAsync(client, SummarizeTask, "Summarize this text in one sentence.", text, new ChatCompletionOptions { MaxOutputTokenCount = maxOutputTokens }, cancellationToken);
    }

    private static async Task<string> CompleteAsync(ChatClient client, string task, string system, string user, ChatCompletionOptions options, CancellationToken cancellationToken)
    {
        using var scope = AgentRun.Current?.BeginTask(task);
        ChatMessage[] messages = [new SystemChatMessage(system), new UserChatMessage(user)];
        var completion = await client.CompleteChatAsync(messages, options, cancellationToken).ConfigureAwait(false);
        var text = new StringBuilder();
        foreach (var part in completion.Value.Content)
        {
            if (part.Kind == ChatMessageContentPartKind.Text)
            {
                text.Append(part.Text);
            }
        }

        return text.ToString();
    }

    private static string Normalize(string answer)
    {
        // The period may stand inside the quotes or after them ("refactor." or "refactor".): quotes go on both sides of it.
        var span = answer.AsSpan().Trim().Trim("\"'`*");
        if (span.EndsWith('.'))
        {
            span = span[..^1];
        }

        return span.Trim().Trim("\"'`*").Trim().ToString();
    }

    private static class Categories<TEnum>
        where TEnum : struct, Enum
    {
        public static readonly Category<TEnum>[] All = Build();

        private static Category<TEnum>[] Build()
        {
            var fields = typeof(TEnum).GetFields(BindingFlags.Public | BindingFlags.Static);
            return [.. fields.Select(static f => new Category<TEnum>(
                (TEnum)f.GetValue(null)!,
                f.Name,
                f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? KebabCase(f.Name),
                f.GetCustomAttribute<DescriptionAttribute>()?.Description))];
        }
    }

    private sealed record Category<TEnum>(TEnum Value, string Name, string Label, string? Description);

    private static string KebabCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]))))
                {
                    builder.Append('-');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c == '_' ? '-' : c);
            }
        }

        return builder.ToString();
    }
}

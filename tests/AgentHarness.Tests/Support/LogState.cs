using System.Collections;
using Microsoft.Extensions.Logging.Testing;

namespace AgentHarness.Tests.Support;

/// <summary>
/// Every text a captured log record holds: its message, exception, scopes and every value of its state, walked
/// recursively (a header collection inside the state included) with each value's <see cref="object.ToString"/>, the
/// way a structured sink (OpenTelemetry, Serilog) would write them out.
/// </summary>
internal static class LogState
{
    private const int MaxDepth = 8;

    public static IEnumerable<string> Texts(FakeLogCollector logs) => logs.GetSnapshot().SelectMany(Texts);

    public static IEnumerable<string> Texts(FakeLogRecord record)
    {
        var texts = new List<string> { record.Message };
        if (record.Exception is { } exception)
        {
            texts.Add(exception.ToString());
        }

        Walk(record.State, texts, 0);
        foreach (var scope in record.Scopes)
        {
            Walk(scope, texts, 0);
        }

        return texts;
    }

    private static void Walk(object? value, List<string> texts, int depth)
    {
        if (value is null || depth > MaxDepth)
        {
            return;
        }

        texts.Add(value.ToString() ?? string.Empty);
        if (value is string)
        {
            return;
        }

        var type = value.GetType();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
        {
            Walk(type.GetProperty("Key")!.GetValue(value), texts, depth + 1);
            Walk(type.GetProperty("Value")!.GetValue(value), texts, depth + 1);
            return;
        }

        if (value is IEnumerable items)
        {
            foreach (var item in items)
            {
                Walk(item, texts, depth + 1);
            }
        }
    }
}

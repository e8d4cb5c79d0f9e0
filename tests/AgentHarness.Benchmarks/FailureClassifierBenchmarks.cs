using AgentHarness.Routing.Internal;
using BenchmarkDotNet.Attributes;

namespace AgentHarness.Benchmarks;

/// <summary>
/// What judging a failed attempt costs apart from the rest of a fallback: <see cref="FallbackBenchmarks"/>' 503 body
/// classified (its JSON read for the error's code, type and wording).
/// </summary>
[MemoryDiagnoser]
public class FailureClassifierBenchmarks
{
    private static readonly byte[] Unavailable = System.Text.Encoding.UTF8.GetBytes(
        """{"error":{"message":"The server is overloaded","type":"server_error","param":null,"code":"server_error"}}""");

    [Benchmark]
    public string Classify503() => FailureClassifier.Classify(503, Unavailable).Reason;
}

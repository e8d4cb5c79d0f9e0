using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using AgentHarness.IntegrationTests.Support;
using AgentHarness.Testing;
using OpenAI;
using OpenAI.Embeddings;

namespace AgentHarness.IntegrationTests.Embeddings;

/// <summary>Embeddings through the harness to a sandbox behind a real socket.</summary>
public sealed class EmbeddingTests
{
    private const string Model = "openai/text-embedding-3-small";
    private const string Input = "fix the null check in the token refresh";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GenerateEmbeddingAsync_OverSocketBase64_DecodesSandboxVectorAndRecordsUsage()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        using var host = HarnessHost.WithGateway(server);

        OpenAIEmbedding embedding = await host.Harness.GetEmbeddingClient(Model).GenerateEmbeddingAsync(Input, cancellationToken: Ct);

        var request = Assert.Single(server.Sandbox.Requests);
        Assert.Equal("/v1/embeddings", request.Path);
        using (var body = JsonDocument.Parse(request.Body))
        {
            Assert.Equal("base64", body.RootElement.GetProperty("encoding_format").GetString());
        }

        // The same sandbox in process, without the harness or a socket, gives the same vector.
        var expected = (await Direct(new SandboxProvider()).GenerateEmbeddingAsync(Input, cancellationToken: Ct)).Value.ToFloats().ToArray();
        var vector = embedding.ToFloats().ToArray();
        Assert.Equal(8, vector.Length);
        Assert.Equal(expected, vector);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), precision: 5);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal("embeddings", record.Operation);
        Assert.Equal(request.InputTokens, record.InputTokens);
        Assert.Equal(SandboxTokens.Count(Input), record.InputTokens);
        Assert.Equal(0, record.OutputTokens);
        Assert.Equal(Model, record.ModelUsed);
        Assert.Equal("requesty", record.Provider);
    }

    private static EmbeddingClient Direct(SandboxProvider sandbox) => new(Model, new ApiKeyCredential("k"), new OpenAIClientOptions
    {
        Endpoint = new Uri("https://sandbox.test/v1"),
        Transport = new HttpClientPipelineTransport(new HttpClient(sandbox.CreateHandler())),
        RetryPolicy = new ClientRetryPolicy(0),
    });
}

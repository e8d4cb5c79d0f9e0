using System.ClientModel;
using System.Net;
using AgentHarness.Tests.Support;
using OpenAI.Audio;

namespace AgentHarness.Tests.Routing;

/// <summary>Multipart requests (audio transcriptions, image edits) are routed by their <c>model</c> field like JSON requests by theirs.</summary>
public sealed partial class RoutingHandlerTests
{
    private static readonly byte[] Audio = [.. "RIFF\0\0\0\0WAVEfmt "u8, 0x01, 0x00, 0xFF, 0xFE, .. "\r\n--not-the-boundary\r\n"u8];

    private static HttpResponseMessage Transcription() => Responses.Json("""{"text":"hello"}""");

    [Fact]
    public async Task SendAsync_MultipartTranscriptionToProviderModel_ReachesThatProviderWithTheBareModelInItsForm()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/audio/transcriptions", _ => Transcription());
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        AudioClient client = host.Harness.GetOpenAIClient().GetAudioClient("openai/whisper-1");

        var result = await client.TranscribeAudioAsync(new MemoryStream(Audio), "clip.wav", cancellationToken: Ct);

        Assert.Equal("hello", result.Value.Text);
        var request = Assert.Single(mock.Requests);
        Assert.Equal(new Uri("https://openai.test/v1/audio/transcriptions"), request.Uri);
        Assert.Equal(["Bearer key-openai"], request.HeaderValues("Authorization"));
        Assert.Equal("whisper-1", FormField(request.Body, "model"));
        Assert.DoesNotContain("openai/whisper-1", request.Body, StringComparison.Ordinal);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal("openai/whisper-1", record.ModelRequested);
        Assert.Equal("openai", record.Provider);
    }

    [Fact]
    public async Task SendAsync_MultipartTranscriptionToPolicy_EachCandidateGetsItsOwnModelInTheForm()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/audio/transcriptions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/audio/transcriptions", _ => Transcription());
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 0);
            b.Configure(static o =>
            {
                var policy = new PolicyOptions { AttemptsPerModel = 1 };
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/whisper-1" });
                policy.Models.Add(new PolicyMemberOptions { Model = "mistral/voxtral-mini-latest" });
                o.Policies["transcribe"] = policy;
            });
        });

        await host.Harness.GetOpenAIClient().GetAudioClient("policy/transcribe").TranscribeAudioAsync(new MemoryStream(Audio), "clip.wav", cancellationToken: Ct);

        Assert.Equal(["whisper-1", "voxtral-mini-latest"], mock.Requests.Select(r => FormField(r.Body, "model")));
        Assert.Equal(["Bearer key-openai", "Bearer key-mistral"], mock.Requests.Select(r => Assert.Single(r.HeaderValues("Authorization"))));
        Assert.All(mock.Requests, r => Assert.Contains("WAVEfmt ", r.Body, StringComparison.Ordinal));
        Assert.All(mock.Requests, r => Assert.Contains("\r\n--not-the-boundary\r\n", r.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SendAsync_MultipartWithTwoModelFields_RefusedBeforeSending()
    {
        var mock = new RecordingMock();
        mock.Respond("*", _ => Transcription());
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        using var form = new MultipartFormDataContent("form-boundary");
        form.Add(new StringContent("openai/whisper-1"), "model");
        form.Add(new StringContent("policy/other"), "model");
        form.Add(new ByteArrayContent(Audio), "file", "clip.wav");
        var body = BinaryData.FromBytes(await form.ReadAsByteArrayAsync(Ct));

        var ex = await Assert.ThrowsAsync<UnroutableModelException>(() => host.Harness.GetOpenAIClient().GetAudioClient("openai/whisper-1")
            .TranscribeAudioAsync(BinaryContent.Create(body), "multipart/form-data; boundary=form-boundary"));

        Assert.Contains("more than one 'model' field", ex.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
    }

    [Fact]
    public async Task SendAsync_MultipartWithoutBoundary_RefusedInsteadOfSentWithItsIdUnchanged()
    {
        var mock = new RecordingMock();
        mock.Respond("*", _ => Transcription());
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var body = BinaryData.FromString("--x\r\nContent-Disposition: form-data; name=model\r\n\r\npolicy/transcribe\r\n--x--\r\n");

        var ex = await Assert.ThrowsAsync<UnroutableModelException>(() => host.Harness.GetOpenAIClient().GetAudioClient("policy/transcribe")
            .TranscribeAudioAsync(BinaryContent.Create(body), "multipart/form-data"));

        Assert.Contains("multipart form could not be read", ex.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
    }

    /// <summary>The value of a form field as the provider received it.</summary>
    private static string FormField(string body, string name)
    {
        var start = body.IndexOf($"name={name}", StringComparison.Ordinal);
        if (start < 0)
        {
            start = body.IndexOf($"name=\"{name}\"", StringComparison.Ordinal);
        }

        Assert.True(start >= 0, $"no field {name}");
        var value = body.IndexOf("\r\n\r\n", start, StringComparison.Ordinal) + 4;
        var end = body.IndexOf("\r\n--", value, StringComparison.Ordinal);
        return body[value..end];
    }
}

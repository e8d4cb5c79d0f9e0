using System.ClientModel;
using System.ClientModel.Primitives;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// The route of a client the harness handed out, known when the client is created: the id it was asked for, its plan,
/// and the model name the official client writes into its bodies (for a direct route the provider's own name, so that
/// the body needs no rewriting). It travels with each request the client sends, out of band, so the routing handler
/// neither reads nor parses a body to route, tag or record the call.
/// </summary>
internal sealed class ClientRoute
{
    /// <summary>The request option that carries the route from the client's transport to the routing handler.</summary>
    public static readonly HttpRequestOptionsKey<Request> OptionsKey = new("AgentHarness.ClientRoute");

    public ClientRoute(string model, string bodyModel, RoutePlan plan)
    {
        Model = model;
        BodyModel = bodyModel;
        Plan = plan;
        Whole = new Request(this, stream: false);
        Streaming = new Request(this, stream: true);
    }

    /// <summary>Gets the id the client was asked for, as the record names it.</summary>
    public string Model { get; }

    /// <summary>Gets the model the official client writes into its bodies.</summary>
    public string BodyModel { get; }

    /// <summary>Gets the route's plan.</summary>
    public RoutePlan Plan { get; }

    /// <summary>Gets the mark of a request for a whole answer.</summary>
    public Request Whole { get; }

    /// <summary>Gets the mark of a request for a stream.</summary>
    public Request Streaming { get; }

    /// <summary>The mark on one request: its route, and whether the client asked for a stream. Two exist per route, so marking allocates nothing.</summary>
    internal sealed class Request(ClientRoute route, bool stream)
    {
        public ClientRoute Route { get; } = route;

        public bool Stream { get; } = stream;
    }
}

/// <summary>
/// The transport of a client the harness handed out: the harness's <see cref="HttpClient"/>, marking each request with
/// the client's route when its body is the official client's own serialization of its options. A protocol method's
/// own body (<see cref="BinaryContent.Create(BinaryData)"/>) names whatever model its caller wrote, so it is left
/// unmarked and routed by what it says.
/// </summary>
/// <param name="client">The harness's client.</param>
/// <param name="route">The route of the official client this transport serves.</param>
/// <param name="ownContent">The type of content the official client's convenience methods send for this route.</param>
internal sealed class RoutedTransport(HttpClient client, ClientRoute route, Type ownContent) : HttpClientPipelineTransport(client)
{
    /// <summary>The content type the chat client's convenience methods send: their options, serialized by the client.</summary>
    public static readonly Type ChatContent = BinaryContent.Create(new OpenAI.Chat.ChatCompletionOptions()).GetType();

    /// <summary>The content type the embedding client's convenience methods send.</summary>
    public static readonly Type EmbeddingContent = BinaryContent.Create(new OpenAI.Embeddings.EmbeddingGenerationOptions()).GetType();

    protected override void OnSendingRequest(PipelineMessage message, HttpRequestMessage httpRequest)
    {
        if (message.Request.Content?.GetType() == ownContent)
        {
            // The convenience methods ask for a stream exactly when they leave the answer unbuffered.
            httpRequest.Options.Set(ClientRoute.OptionsKey, message.BufferResponse ? route.Whole : route.Streaming);
        }
    }
}

namespace AgentHarness.AI.Internal;

/// <summary>A keyed client registered from the harness builder: what the start check routes, and how its messages name it.</summary>
/// <param name="Method">The registering method, for example <c>AddChatClient</c>.</param>
/// <param name="ServiceKey">The client's service key.</param>
/// <param name="Model">The model or policy id it is bound to.</param>
/// <param name="Embeddings">Whether it is an embedding generator.</param>
internal sealed record ClientRegistration(string Method, string ServiceKey, string Model, bool Embeddings)
{
    /// <summary>Gets how a message names the registration, as the application wrote it.</summary>
    public string Setting => $"{Method}(\"{ServiceKey}\", \"{Model}\")";
}

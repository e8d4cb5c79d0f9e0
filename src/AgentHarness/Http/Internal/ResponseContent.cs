namespace AgentHarness.Http.Internal;

/// <summary>Puts a body read whole back on its response, in place of the content it was read from.</summary>
internal static class ResponseContent
{
    /// <summary>
    /// Replaces the response's content with <paramref name="buffered"/>, which gets the headers it came with but its
    /// length (the buffer's own is the one to declare), and disposes the content that was read.
    /// </summary>
    public static void Replace(HttpResponseMessage response, HttpContent buffered)
    {
        HeaderCopy.AddContentHeaders(buffered, response.Content);
        response.Content.Dispose();
        response.Content = buffered;
    }
}

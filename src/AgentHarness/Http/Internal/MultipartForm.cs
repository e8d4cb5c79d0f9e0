using System.Text;

namespace AgentHarness.Http.Internal;

/// <summary>
/// Reads the parts of a <c>multipart/form-data</c> body (audio transcriptions and translations, image edits and
/// variations) that routing needs: the <c>model</c> field, located by byte offsets so that an attempt to another model
/// replaces only its value, and the <c>stream</c> field. The file parts are passed over, never copied or decoded.
/// </summary>
internal static class MultipartForm
{
    /// <summary>The longest part header block read; a real one (a disposition and a type) is well under a kilobyte.</summary>
    private const int MaxHeaderBytes = 8 * 1024;

    /// <summary>The longest field value read as text; a model id is at most a few hundred bytes.</summary>
    private const int MaxFieldBytes = 1024;

    /// <summary>Gets a value indicating whether the content says it is <c>multipart/form-data</c>, with a usable boundary or not.</summary>
    public static bool IsForm(HttpContent content) =>
        string.Equals(content.Headers.ContentType?.MediaType, "multipart/form-data", StringComparison.OrdinalIgnoreCase);

    /// <summary>Gets the form's boundary when the content is <c>multipart/form-data</c> with a usable one, or <see langword="null"/>.</summary>
    public static string? Boundary(HttpContent content)
    {
        var type = content.Headers.ContentType;
        if (type is null || !string.Equals(type.MediaType, "multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        foreach (var parameter in type.Parameters)
        {
            if (string.Equals(parameter.Name, "boundary", StringComparison.OrdinalIgnoreCase) && parameter.Value is { Length: > 0 } value)
            {
                var boundary = value.Trim('"');
                return boundary.Length is > 0 and <= 70 ? boundary : null;
            }
        }

        return null;
    }

    /// <summary>Parses a form body; a body that is not a well-formed form is returned with no model, as a JSON body that is not JSON is.</summary>
    public static RequestBody Parse(byte[] bytes, string boundary)
    {
        var delimiter = Encoding.ASCII.GetBytes("--" + boundary);
        var separator = Encoding.ASCII.GetBytes("\r\n--" + boundary);
        var span = bytes.AsSpan();
        string? model = null;
        string? modelError = null;
        int modelStart = -1, modelLength = 0;
        var stream = false;

        // The first delimiter may follow a preamble; every later one follows a CRLF.
        var at = span.IndexOf(delimiter);
        if (at < 0)
        {
            return Unreadable(bytes);
        }

        while (at >= 0)
        {
            var afterDelimiter = at + delimiter.Length;
            if (span[afterDelimiter..].StartsWith("--"u8))
            {
                break;
            }

            var headersStart = afterDelimiter + LineEnd(span[afterDelimiter..]);
            var headersLength = span[headersStart..].IndexOf("\r\n\r\n"u8);
            if (headersStart <= afterDelimiter || headersLength < 0 || headersLength > MaxHeaderBytes)
            {
                return Unreadable(bytes);
            }

            var valueStart = headersStart + headersLength + 4;
            var next = span[valueStart..].IndexOf(separator);
            if (next < 0)
            {
                return Unreadable(bytes);
            }

            var name = FieldName(span.Slice(headersStart, headersLength), out var isFile);
            var value = span.Slice(valueStart, next);
            if (!isFile && name == "model")
            {
                if (model is not null || modelError is not null)
                {
                    modelError = "The request's form has more than one 'model' field; it cannot be routed.";
                }
                else if (value.Length > MaxFieldBytes || !TryDecode(value, out model))
                {
                    modelError = "The request's form has a 'model' field that is not a readable model id; it cannot be routed.";
                    model = null;
                }
                else
                {
                    modelStart = valueStart;
                    modelLength = value.Length;
                }
            }
            else if (!isFile && name == "stream")
            {
                stream = value.Trim(" \t"u8).SequenceEqual("true"u8);
            }

            at = valueStart + next + 2;
        }

        if (modelError is not null)
        {
            return RequestBody.Form(bytes, null, -1, 0, stream, modelError);
        }

        return RequestBody.Form(bytes, model, modelStart, modelLength, stream, null);
    }

    /// <summary>
    /// A form that cannot be taken apart: its model, if it has one, cannot be read, so it is refused rather than sent to
    /// where a request without a model goes with a <c>provider/model</c> or <c>policy/</c> id unchanged.
    /// </summary>
    private static RequestBody Unreadable(byte[] bytes) => RequestBody.Form(bytes, null, -1, 0, false, UnreadableForm);

    /// <summary>Why a multipart request whose form cannot be read is refused.</summary>
    public const string UnreadableForm = "The request's multipart form could not be read (its boundary or its parts are malformed), so its model field cannot be routed.";

    /// <summary>The length of the rest of the delimiter's line (transport padding, then CRLF), or 0 when it has none.</summary>
    private static int LineEnd(ReadOnlySpan<byte> rest)
    {
        var end = rest.IndexOf("\r\n"u8);
        return end < 0 || rest[..end].IndexOfAnyExcept(" \t"u8) >= 0 ? 0 : end + 2;
    }

    /// <summary>The <c>name</c> of a part's <c>Content-Disposition</c>, and whether the part is a file (it has a <c>filename</c>).</summary>
    private static string? FieldName(ReadOnlySpan<byte> headers, out bool isFile)
    {
        isFile = false;
        foreach (var range in headers.Split("\r\n"u8))
        {
            var line = headers[range];
            var colon = line.IndexOf((byte)':');
            if (colon < 0 || !Ascii.EqualsIgnoreCase(line[..colon].Trim(" \t"u8), "Content-Disposition"u8))
            {
                continue;
            }

            string? name = null;
            var parameters = Encoding.ASCII.GetString(line[(colon + 1)..]).Split(';', StringSplitOptions.TrimEntries);
            foreach (var parameter in parameters.AsSpan(1))
            {
                var equals = parameter.IndexOf('=', StringComparison.Ordinal);
                if (equals < 0)
                {
                    continue;
                }

                var key = parameter[..equals].Trim();
                var value = parameter[(equals + 1)..].Trim().Trim('"');
                if (key.Equals("name", StringComparison.OrdinalIgnoreCase))
                {
                    name = value;
                }
                else if (key.StartsWith("filename", StringComparison.OrdinalIgnoreCase))
                {
                    isFile = true;
                }
            }

            return name;
        }

        return null;
    }

    private static bool TryDecode(ReadOnlySpan<byte> value, out string? text)
    {
        if (!System.Text.Unicode.Utf8.IsValid(value))
        {
            text = null;
            return false;
        }

        text = Encoding.UTF8.GetString(value);
        return true;
    }
}

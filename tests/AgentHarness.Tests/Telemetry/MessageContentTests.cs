using System.Text;
using AgentHarness.Telemetry.Internal;

namespace AgentHarness.Tests.Telemetry;

public sealed class MessageContentTests
{
    [Fact]
    public void Input_ToolCallsImagesAndToolResults_ConventionsParts()
    {
        var body = """
            {"model":"m","messages":[
              {"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":1}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"42"}]}
            """;

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"text","content":"What is this?"},{"type":"image_url"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"lookup","arguments":"{\u0022q\u0022:1}"}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"42"}]}]""",
            MessageContent.Input(Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Input_NoMessages_Null()
    {
        Assert.Null(MessageContent.Input(Encoding.UTF8.GetBytes("""{"model":"m","input":"text"}""")));
    }

    [Fact]
    public void StreamOutput_TextAndReason_OneAssistantMessage()
    {
        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"text","content":"Looks good."}],"finish_reason":"stop"}]""",
            MessageContent.StreamOutput("Looks good.", "stop"));
    }
}

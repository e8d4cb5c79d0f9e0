using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Routing.Internal;
using Xunit;

namespace AgentHarness.Tests.Routing;

/// <summary>
/// Error bodies are the providers' own, copied from the public reports named above each row (issues quote them verbatim, at
/// most turned from a Python repr into the JSON that was on the wire). Rows marked "envelope" put a provider's verbatim message
/// into the envelope that provider documents, where no report quoted the whole body.
/// </summary>
public sealed partial class FailureClassifierTests
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);

    public static TheoryData<int, string, string, string> OpenAiBodies => new()
    {
        // Pythagora-io/gpt-pilot#53
        {
            429,
            """{"error":{"message":"Rate limit reached for 10KTPM-200RPM in organization org-OASFC7k1Ff5IzueeLArhQtnT on tokens per min. Limit: 10000 / min. Please try again in 6ms. Contact us through our help center at help.openai.com if you continue to have issues.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 rate_limit_exceeded"
        },

        // vanderschaarlab/climb#1: a request larger than the per-minute budget is still a rate limit.
        {
            429,
            """{"error":{"message":"Request too large for gpt-4o in organization org-VDAWofJASuLH0vVz8o9tiQZr on tokens per min (TPM): Limit 30000, Requested 30601. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 rate_limit_exceeded"
        },

        // ChatGPTNextWeb/NextChat#3664
        {
            429,
            """
            {
              "error": {
                "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "type": "insufficient_quota",
                "param": null,
                "code": "insufficient_quota"
              }
            }
            """,
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 insufficient_quota"
        },

        // ayaka14732/ChatGPTAPIFree#16: the older shape, with the code only in the type.
        {
            429,
            """{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":null}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 insufficient_quota"
        },

        // chathub-dev/chathub#126
        {
            400,
            """{"error":{"message":"This model's maximum context length is 4097 tokens. However, your messages resulted in 4294 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 context_length_exceeded"
        },

        // songquanpeng/one-api#737 (DALL-E 3)
        {
            400,
            """{"error":{"code":"content_policy_violation","message":"Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.","param":null,"type":"invalid_request_error"}}""",
            nameof(FailureKind.ContentFilter),
            "HTTP 400 content_policy_violation"
        },

        // alan-turing-institute/t0-1#69 (reasoning models)
        {
            400,
            """{"error":{"message":"Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try again with a different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting","type":"invalid_request_error","param":null,"code":"invalid_prompt"}}""",
            nameof(FailureKind.ContentFilter),
            "HTTP 400 invalid_prompt"
        },

        // The-Vibe-Company/quivr#1400: the message quotes part of the key.
        {
            401,
            """{"error":{"message":"Incorrect API key provided: sk-v3s3w***************************************bfcr. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""",
            nameof(FailureKind.Authentication),
            "HTTP 401 invalid_api_key"
        },

        // A third-party classifier's fixture of OpenAI's geography refusal.
        {
            403,
            """{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","code":"unsupported_country_region_territory"}}""",
            nameof(FailureKind.Authentication),
            "HTTP 403 unsupported_country_region_territory"
        },

        // rd-1-2022/ai-openai-helloworld#9
        {
            404,
            """
            {
                "error": {
                    "message": "The model `gpt-4o` does not exist or you do not have access to it.",
                    "type": "invalid_request_error",
                    "param": null,
                    "code": "model_not_found"
                }
            }
            """,
            nameof(FailureKind.ModelNotFound),
            "HTTP 404 model_not_found"
        },

        // BerriAI/litellm, litellm/litellm_core_utils/exception_mapping_utils.py, the body quoted in get_error_message.
        {
            400,
            """{"error":{"message":"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 200 instead.","type":"invalid_request_error","param":"temperature","code":"decimal_above_max_value"}}""",
            nameof(FailureKind.InvalidRequest),
            "HTTP 400 decimal_above_max_value (param temperature)"
        },

        // A third-party classifier's fixture: one string over its cap is the caller's error, not a full window.
        {
            400,
            """{"error":{"message":"Invalid 'messages[3].content': string too long. Expected a string with maximum length 1048576, but got a string with length 2097152 instead.","type":"invalid_request_error","param":"messages[3].content","code":"string_above_max_length"}}""",
            nameof(FailureKind.InvalidRequest),
            "HTTP 400 string_above_max_length (param messages[3].content)"
        },

        // A third-party image client's test of OpenAI's images endpoint.
        {
            400,
            """{"error":{"message":"Billing hard limit has been reached.","code":"billing_hard_limit_reached"}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 400 billing_hard_limit_reached"
        },

        // ai-genie/chatgpt-vscode#100
        {
            500,
            """
            {
              "error": {
                "message": "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error. (Please include the request ID e5c949c8ec2c86be225544e5eefcbe4d in your email.)",
                "type": "server_error",
                "param": null,
                "code": null
              }
            }
            """,
            nameof(FailureKind.Transient),
            "HTTP 500 server_error"
        },

        // Envelope: the 503 message of OpenAI's error-code guide.
        {
            503,
            """{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}""",
            nameof(FailureKind.Transient),
            "HTTP 503 server_error"
        },
    };

    public static TheoryData<int, string, string, string> AzureOpenAiBodies => new()
    {
        // openai/openai-dotnet#55
        {
            400,
            """{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":true,"severity":"high"},"violence":{"filtered":false,"severity":"safe"}}}}}""",
            nameof(FailureKind.ContentFilter),
            "HTTP 400 content_filter"
        },

        // stanford-crfm/helm#3327: the same refusal without the innererror.
        {
            400,
            """{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400}}""",
            nameof(FailureKind.ContentFilter),
            "HTTP 400 content_filter"
        },

        // BerriAI/litellm#16072 (DALL-E 3 on Azure, inner_error spelled with an underscore)
        {
            400,
            """{"error":{"code":"content_policy_violation","inner_error":{"code":"ResponsibleAIPolicyViolation","content_filter_results":{"jailbreak":{"detected":false,"filtered":false}}},"message":"Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.","type":"invalid_request_error"}}""",
            nameof(FailureKind.ContentFilter),
            "HTTP 400 content_policy_violation"
        },

        // vanderschaarlab/climb#1: "quotaincrease" in the link is not a spent quota.
        {
            429,
            """{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-08-01-preview have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}""",
            nameof(FailureKind.Transient),
            "HTTP 429"
        },

        // Envelope: the call-rate message of langchain-ai/langchain#12986.
        {
            429,
            """{"error":{"code":"429","message":"Requests to the Embeddings_Create Operation under Azure OpenAI API version 2023-07-01-preview have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}""",
            nameof(FailureKind.Transient),
            "HTTP 429"
        },

        // jasonacox/TinyLLM#17: the Azure 429 relayed by a LiteLLM proxy.
        {
            429,
            """{"error":{"message":"litellm.RateLimitError: AzureException RateLimitError - Error code: 429 - {'error': {'code': '429', 'message': 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2023-05-15 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 86400 seconds. Please contact Azure support service if you would like to further increase the default rate limit.'}}\nReceived Model Group=azure-gpt-4o-mini\nAvailable Model Group Fallbacks=None","type":"throttling_error","param":null,"code":"429"}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 throttling_error"
        },

        // BerriAI/litellm#16231: the Azure refusal relayed by a LiteLLM proxy, the innererror under provider_specific_fields.
        {
            400,
            """
            {
              "error": {
                "message": "litellm.BadRequestError: litellm.ContentPolicyViolationError: litellm.ContentPolicyViolationError: AzureException - The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766\nmodel=azure/gpt-4o-new-test. content_policy_fallback=None. fallbacks=None.\n\nSet 'content_policy_fallback' - https://docs.litellm.ai/docs/routing#fallbacks. Received Model Group=azure/gpt-4o-new-test\nAvailable Model Group Fallbacks=None",
                "type": null,
                "param": null,
                "code": "400",
                "provider_specific_fields": {
                  "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                      "hate": {
                        "filtered": true,
                        "severity": "high"
                      },
                      "jailbreak": {
                        "filtered": false,
                        "detected": false
                      }
                    }
                  }
                }
              }
            }
            """,
            nameof(FailureKind.ContentFilter),
            "HTTP 400 ResponsibleAIPolicyViolation"
        },
    };

    public static TheoryData<int, string, string, string> AnthropicBodies => new()
    {
        // anthropics/claude-code#12186
        {
            400,
            """{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"},"request_id":"req_011CVQe1dLrGNMJyE1ghG1av"}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 invalid_request_error (context window exceeded)"
        },

        // docker/docker-agent#569
        {
            400,
            """
            {
              "type": "error",
              "error": {
                "type": "invalid_request_error",
                "message": "input length and `max_tokens` exceed context limit: 178959 + 64000 > 200000, decrease input length or `max_tokens` and try again"
              },
              "request_id":"req_011CUB2XUHWkFnQzxcKBbjpF"
            }
            """,
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 invalid_request_error (context window exceeded)"
        },

        // anthropics/anthropic-sdk-typescript#616
        {
            529,
            """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""",
            nameof(FailureKind.Transient),
            "HTTP 529 overloaded_error"
        },

        // anthropics/claude-code#71670
        {
            429,
            """{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account's rate limit. Please try again later."},"request_id":"req_011CcR9mkMvXdaiWP4739PSN"}""",
            nameof(FailureKind.Transient),
            "HTTP 429 rate_limit_error"
        },

        // Envelope: the message and type of brianpetro/obsidian-smart-connections#725, which asks to shorten the prompt.
        {
            429,
            """{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 rate_limit_error"
        },

        // FoundationAgents/OpenManus#746: the same through Anthropic's OpenAI-compatible endpoint.
        {
            429,
            """{"error":{"code":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 20,000 input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.","type":"invalid_request_error","param":null}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 rate_limit_error"
        },

        // anthropics/claude-code#66314
        {
            400,
            """{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},"request_id":"req_011CbrFTcXhtiMzr3s6EocF7"}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 400 invalid_request_error (quota exceeded)"
        },

        // emilsvennesson/opencode-websearch#15
        {
            401,
            """{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CaJCR7Pm2Jh2LbWpBH5Y6"}""",
            nameof(FailureKind.Authentication),
            "HTTP 401 authentication_error"
        },

        // anthropics/claude-code#72192
        {
            500,
            """{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_011CcLLdL8STNSDEk7Wk9Z7L"}""",
            nameof(FailureKind.Transient),
            "HTTP 500 api_error"
        },

        // ChatGPTNextWeb/NextChat#4964: too many output tokens is the caller's error, not a full window.
        {
            400,
            """
            {
              "type": "error",
              "error": {
                "type": "invalid_request_error",
                "message": "max_tokens: 10000 > 4096, which is the maximum allowed number of output tokens for claude-3-5-sonnet-20240620"
              }
            }
            """,
            nameof(FailureKind.InvalidRequest),
            "HTTP 400 invalid_request_error"
        },

        // anthropics/claude-code#11302: relayed by a LiteLLM proxy, whose "None" is no type.
        {
            400,
            """{"error":{"message":"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"max_tokens: 21333 > 4096, which is the maximum allowed number of output tokens for claude-3-opus-20240229\"},\"request_id\":\"req_011CUwZTS7TYAH8UyTro83sP\"}. Received Model Group=claude-haiku-4-5-20251001\nAvailable Model Group Fallbacks=None","type":"None","param":"None","code":"400"}}""",
            nameof(FailureKind.InvalidRequest),
            "HTTP 400"
        },

        // OpenHands/OpenHands#5350: a LiteLLM proxy's ContextWindowExceededError after its own fallbacks failed.
        {
            400,
            """{"error":{"message":"litellm.BadRequestError: BedrockException - {\"message\":\"messages.32.content: Conversation blocks and tool result blocks cannot be provided in the same turn.\"}\n. Enable 'litellm.modify_params=True' (for PROXY do: `litellm_settings::modify_params: True`) to insert a dummy assistant message and fix this error.\nReceived Model Group=claude-3-5-sonnet-20241022\nAvailable Model Group Fallbacks=['anthropic/claude-3-5-sonnet-20241022']\nError doing the fallback: litellm.BadRequestError: litellm.ContextWindowExceededError: AnthropicError - {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: 209303 tokens > 200000 maximum\"}}\nReceived Model Group=anthropic/claude-3-5-sonnet-20241022\nAvailable Model Group Fallbacks=None","type":null,"param":null,"code":"400"}}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 (context window exceeded)"
        },
    };

    public static TheoryData<int, string, string, string> GoogleBodies => new()
    {
        // RooCodeInc/Roo-Code#3883 (Gemini API, free tier)
        {
            429,
            """
            {
              "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                  {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                      {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                        "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
                        "quotaDimensions": {
                          "location": "global",
                          "model": "gemini-2.5-flash"
                        },
                        "quotaValue": "250000"
                      }
                    ]
                  },
                  {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                      {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits"
                      }
                    ]
                  },
                  {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": "26s"
                  }
                ]
              }
            }
            """,
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 RESOURCE_EXHAUSTED (quota exceeded)"
        },

        // google-gemini/gemini-cli#14811 (Vertex AI, streaming array): shared capacity, not a quota.
        {
            429,
            """[{"error":{"code":429,"message":"Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.","status":"RESOURCE_EXHAUSTED"}}]""",
            nameof(FailureKind.Transient),
            "HTTP 429 RESOURCE_EXHAUSTED"
        },

        // google-gemini/gemini-cli#4231
        {
            400,
            """
            {
              "error": {
                "code": 400,
                "message": "The input token count (3475108) exceeds the maximum number of tokens allowed (1048576).",
                "status": "INVALID_ARGUMENT"
              }
            }
            """,
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 INVALID_ARGUMENT (context window exceeded)"
        },

        // google-gemini/gemini-cli#6678 (streaming array)
        {
            400,
            """
            [{
                "error": {
                  "code": 400,
                  "message": "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
                  "errors": [
                    {
                      "message": "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
                      "domain": "global",
                      "reason": "badRequest"
                    }
                  ],
                  "status": "INVALID_ARGUMENT"
                }
              }
              ]
            """,
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 INVALID_ARGUMENT (context window exceeded)"
        },

        // google-gemini/gemini-cli#15745
        {
            503,
            """
            {
              "error": {
                "code": 503,
                "message": "The model is overloaded. Please try again later.",
                "status": "UNAVAILABLE"
              }
            }
            """,
            nameof(FailureKind.Transient),
            "HTTP 503 UNAVAILABLE"
        },

        // cequence-io/openai-scala-client#109: a bad key is a 400, but another provider's key may work.
        {
            400,
            """
            {
              "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                  {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {
                      "service": "generativelanguage.googleapis.com"
                    }
                  },
                  {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": "API key not valid. Please pass a valid API key."
                  }
                ]
              }
            }
            """,
            nameof(FailureKind.Authentication),
            "HTTP 400 API_KEY_INVALID"
        },
    };

    public static TheoryData<int, string, string, string> GatewayBodies => new()
    {
        // BerriAI/litellm#36729 (LiteLLM proxy budget)
        {
            429,
            """
            {
              "error": {
                "message": "Budget has been exceeded! Current cost: 10.51, Max budget: 10.00",
                "type": "budget_exceeded",
                "code": "429"
              }
            }
            """,
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 budget_exceeded"
        },

        // BerriAI/litellm#14144: a LiteLLM budget relayed by another LiteLLM, as a 400.
        {
            400,
            """{"error":{"message":"litellm.BadRequestError: OpenAIException - Budget has been exceeded! Current cost: 14.xxx, Max budget: 100. Received Model Group=meta.llama3-8b-instruct-v1:0\nAvailable Model Group Fallbacks=None","type":null,"param":null,"code":"400"}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 400 (quota exceeded)"
        },

        // Envelope: the LiteLLM proxy error format around the ContextWindowExceededError of BerriAI/litellm#18927.
        {
            400,
            """{"error":{"message":"litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: OpenAIException - Input tokens exceed the configured limit of 272000 tokens.","type":null,"param":null,"code":"400"}}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 (context window exceeded)"
        },

        // A per-key spend limit from a public gateway's handler (code upper-cased).
        {
            429,
            """{"error":{"message":"API key spend limit exceeded","code":"API_KEY_SPEND_LIMIT_EXCEEDED"}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 API_KEY_SPEND_LIMIT_EXCEEDED"
        },

        // A per-key spend limit from another public gateway, with error as a bare string.
        {
            402,
            """{"error":"api_key_spend_limit_exceeded","message":"API key spend limit or prepaid balance would be exceeded by this request."}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 402 api_key_spend_limit_exceeded"
        },

        // Gitlawb/openclaude#43 (OpenRouter)
        {
            402,
            """{"error":{"message":"Insufficient credits. This account never purchased credits. Make sure your key is on the correct account or org, and if so, purchase more at https://openrouter.ai/settings/credits","code":402}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 402 (quota exceeded)"
        },

        // OpenRouterTeam/ai-sdk-provider#24: OpenRouter relaying Anthropic's 401; the raw upstream body is not read.
        {
            401,
            """{"error":{"message":"Provider returned error","code":401,"metadata":{"raw":"{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}","provider_name":"Anthropic","isDownstreamPipeClean":true,"isErrorUpstreamFault":true}}}""",
            nameof(FailureKind.Authentication),
            "HTTP 401"
        },

        // Gitlawb/openclaude#1528 (OpenGateway), with a non-ASCII dash in the message.
        {
            402,
            """{"error":{"message":"Insufficient credits — top up your balance at https://gitlawb.com/opengateway/credits","type":"insufficient_quota","code":"insufficient_credits"}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 402 insufficient_quota"
        },
    };

    public static TheoryData<int, string, string, string> OtherProviderBodies => new()
    {
        // Mistral, as quoted by a third-party provider test.
        {
            400,
            """{"object":"error","message":"Prompt contains 40960 tokens and 0 draft tokens, too large for model with 32768 maximum context length","type":"invalid_request_message_error","param":null,"code":null}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 invalid_request_message_error (context window exceeded)"
        },

        // Mistral, as printed by mistralai's SDKError in a public notebook: a numeric string code.
        {
            400,
            """{"object":"error","message":"Prompt contains 159202 tokens and 0 draft tokens, too large for model with 131072 maximum context length","type":"invalid_request_invalid_args","param":null,"code":"3051","raw_status_code":400}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 invalid_request_invalid_args (context window exceeded)"
        },

        // evalstate/fast-agent#621 (DeepSeek)
        {
            400,
            """{"error":{"message":"This model's maximum context length is 131072 tokens. However, you requested 131134 tokens (122942 in the messages, 8192 in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 invalid_request_error (context window exceeded)"
        },

        // letta-ai/letta#1963 (Groq)
        {
            400,
            """{"error":{"message":"Please reduce the length of the messages or completion.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 context_length_exceeded"
        },

        // cottongeeks/podscript#20 (Groq): larger than the per-minute budget, so only another candidate can take it.
        {
            413,
            """{"error":{"message":"Request too large for model `llama-3.3-70b-versatile` in organization `org_01j2g5d88hfvjrgw64hnapqk8y` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 10338, please reduce your message size and try again. Visit https://console.groq.com/docs/rate-limits for more information.","type":"tokens","code":"rate_limit_exceeded"}}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 413 rate_limit_exceeded"
        },

        // Envelope: Groq's 413 envelope around the 429 message of elizaOS/eliza#4040.
        {
            429,
            """{"error":{"message":"Rate limit reached for model `llama-3.1-8b-instant` in organization `org_01j5b4pz9jff492fq686vypsx6` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Used 5034, Requested 1443. Please try again in 4.77s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing","type":"tokens","code":"rate_limit_exceeded"}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 rate_limit_exceeded"
        },

        // Moonshot (Kimi), as quoted by a third-party client test; a suspended account answers 429.
        {
            429,
            """{"error":{"message":"Your account is suspended due to insufficient balance, please recharge your account or check your plan and billing details","type":"exceeded_current_quota_error"}}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 exceeded_current_quota_error"
        },

        // Moonshot (Kimi), as logged in a public note.
        {
            429,
            """{"error":{"message":"The engine is currently overloaded, please try again later","type":"engine_overloaded_error"}}""",
            nameof(FailureKind.Transient),
            "HTTP 429 engine_overloaded_error"
        },

        // xAI, as captured in a public project's notes: error is the message, code a sentence.
        {
            429,
            """{"code":"Some resource has been exhausted","error":"Your team 76d698e2-6235-4611-a62a-53e3622bf551 has either used all available credits or reached its monthly spending limit. To continue making API requests, please purchase more credits or raise your spending limit."}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 429 (quota exceeded)"
        },

        // xAI, from a public incident log: the same stop as a 403.
        {
            403,
            """{"code":"The caller does not have permission to execute the specified operation","error":"Your team fae4735c-ce67-4a51-933c-1fecf062fe21 has either used all available credits or reached its monthly spending limit. To continue making API requests, please purchase more credits or raise your spending limit."}""",
            nameof(FailureKind.QuotaExceeded),
            "HTTP 403 (quota exceeded)"
        },

        // xAI, from a public classifier's test.
        {
            400,
            """{"code":"Client specified an invalid argument","error":"This model's maximum prompt length is 131072 but the request contains 149617 tokens."}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 (context window exceeded)"
        },

        // vLLM's OpenAI-compatible server, as quoted by a third-party test: a numeric code.
        {
            400,
            """{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","code":400}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 BadRequestError (context window exceeded)"
        },

        // Envelope: Cohere's {"message"} around the message of cohere-ai/sandbox-topically#4.
        {
            400,
            """{"message":"too many tokens: total number of tokens (prompt and prediction) cannot exceed 2048 - received 6354. Try using a shorter prompt or a smaller max_tokens value."}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 (context window exceeded)"
        },

        // Amazon Bedrock's ThrottlingException, as quoted by a third-party test: token words on a 429 stay a rate limit.
        {
            429,
            """{"message":"Too many tokens, please wait before trying again."}""",
            nameof(FailureKind.Transient),
            "HTTP 429"
        },

        // Envelope: Bedrock's {"message"} around its ValidationException text (AWS re:Post, bedrock-validation-exception-errors).
        {
            400,
            """{"message":"Input is too long for requested model."}""",
            nameof(FailureKind.ContextWindowExceeded),
            "HTTP 400 (context window exceeded)"
        },

        // ollama/ollama#15934 (Ollama cloud): error as a bare string.
        {
            503,
            """{"error":"Server overloaded, please retry shortly (ref: aaa65c70-cfa0-446b-86f1-4ab0e2deb9e4)"}""",
            nameof(FailureKind.Transient),
            "HTTP 503"
        },
    };

    public static TheoryData<int, string> StatusOnlyCases => new()
    {
        { 408, nameof(FailureKind.Transient) },
        { 429, nameof(FailureKind.Transient) },
        { 500, nameof(FailureKind.Transient) },
        { 502, nameof(FailureKind.Transient) },
        { 503, nameof(FailureKind.Transient) },
        { 504, nameof(FailureKind.Transient) },
        { 529, nameof(FailureKind.Transient) },
        { 501, nameof(FailureKind.Transient) },
        { 599, nameof(FailureKind.Transient) },
        { 401, nameof(FailureKind.Authentication) },
        { 403, nameof(FailureKind.Authentication) },
        { 402, nameof(FailureKind.QuotaExceeded) },
        { 413, nameof(FailureKind.ContextWindowExceeded) },
        { 400, nameof(FailureKind.InvalidRequest) },
        { 404, nameof(FailureKind.ModelNotFound) },
        { 409, nameof(FailureKind.InvalidRequest) },
        { 422, nameof(FailureKind.InvalidRequest) },
    };

    public static TheoryData<string> BodiesWithoutEvidence => new()
    {
        "",
        "   \r\n",
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
        "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        "{}",
        "[]",
        "[1, 2, 3]",
        "null",
        "\"Service Unavailable\"",
        """{"error":{"message":"prompt is""",
        """{"error":{"message" "no colon"}}""",
        """{"detail":"Not Found"}""",
    };

    /// <summary>Messages without a code, each phrase of the classifier in the words of the provider that uses it.</summary>
    public static TheoryData<string, string> Wordings => new()
    {
        { "This model's maximum context length is 8192 tokens. However, your messages resulted in 8264 tokens. Please reduce the length of the messages.", nameof(FailureKind.ContextWindowExceeded) },
        { "Input tokens exceed the configured limit of 272000 tokens. Your messages resulted in 509178 tokens. Please reduce the length of the messages.", nameof(FailureKind.ContextWindowExceeded) },
        { "prompt is too long: 219898 tokens > 200000 maximum", nameof(FailureKind.ContextWindowExceeded) },
        { "input length and `max_tokens` exceed context limit: 199759 + 8192 > 200000, decrease input length or `max_tokens` and try again", nameof(FailureKind.ContextWindowExceeded) },
        { "The input token count exceeds the maximum number of tokens allowed (1048576).", nameof(FailureKind.ContextWindowExceeded) },
        { "This model's maximum prompt length is 131072 but the request contains 149617 tokens.", nameof(FailureKind.ContextWindowExceeded) },
        { "Input is too long for requested model.", nameof(FailureKind.ContextWindowExceeded) },
        { "too many tokens: total number of tokens (prompt and prediction) cannot exceed 2048 - received 6354. Try using a shorter prompt or a smaller max_tokens value.", nameof(FailureKind.ContextWindowExceeded) },
        { "litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: OpenAIException - Input tokens exceed the configured limit of 272000 tokens.", nameof(FailureKind.ContextWindowExceeded) },
        { "You exceeded your current quota, please check your plan and billing details.", nameof(FailureKind.QuotaExceeded) },
        { "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.", nameof(FailureKind.QuotaExceeded) },
        { "Budget has been exceeded! Current cost: 26.075, Max budget: 0.25", nameof(FailureKind.QuotaExceeded) },
        { "Your team has either used all available credits or reached its monthly spending limit. To continue making API requests, please purchase more credits or raise your spending limit.", nameof(FailureKind.QuotaExceeded) },
        { "Insufficient credits. Add more using https://openrouter.ai/settings/credits", nameof(FailureKind.QuotaExceeded) },
        { "Billing hard limit has been reached", nameof(FailureKind.QuotaExceeded) },
        { "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.", nameof(FailureKind.ContentFilter) },
        { "litellm.BadRequestError: litellm.ContentPolicyViolationError: AzureException - Error code: 400", nameof(FailureKind.ContentFilter) },
        { "max_tokens: 10000 > 4096, which is the maximum allowed number of output tokens for claude-3-5-sonnet-20240620", nameof(FailureKind.InvalidRequest) },
        { "Invalid 'user': string too long. Expected a string with maximum length 64, but got a string with length 100 instead.", nameof(FailureKind.InvalidRequest) },
    };

    [Theory]
    [MemberData(nameof(OpenAiBodies))]
    public void Classify_OpenAiBody_ReturnsExpectedFailure(int status, string body, string kind, string reason) =>
        AssertClassified(status, body, kind, reason);

    [Theory]
    [MemberData(nameof(AzureOpenAiBodies))]
    public void Classify_AzureOpenAiBody_ReturnsExpectedFailure(int status, string body, string kind, string reason) =>
        AssertClassified(status, body, kind, reason);

    [Theory]
    [MemberData(nameof(AnthropicBodies))]
    public void Classify_AnthropicBody_ReturnsExpectedFailure(int status, string body, string kind, string reason) =>
        AssertClassified(status, body, kind, reason);

    [Theory]
    [MemberData(nameof(GoogleBodies))]
    public void Classify_GoogleBody_ReturnsExpectedFailure(int status, string body, string kind, string reason) =>
        AssertClassified(status, body, kind, reason);

    [Theory]
    [MemberData(nameof(GatewayBodies))]
    public void Classify_GatewayBody_ReturnsExpectedFailure(int status, string body, string kind, string reason) =>
        AssertClassified(status, body, kind, reason);

    [Theory]
    [MemberData(nameof(OtherProviderBodies))]
    public void Classify_OtherProviderBody_ReturnsExpectedFailure(int status, string body, string kind, string reason) =>
        AssertClassified(status, body, kind, reason);

    [Theory]
    [MemberData(nameof(OpenAiBodies))]
    [MemberData(nameof(AzureOpenAiBodies))]
    [MemberData(nameof(AnthropicBodies))]
    [MemberData(nameof(GoogleBodies))]
    [MemberData(nameof(GatewayBodies))]
    [MemberData(nameof(OtherProviderBodies))]
    public void Classify_AnyProviderBody_ReasonIsShortAsciiAndQuotesNoMessageText(int status, string body, string kind, string reason)
    {
        _ = kind;
        _ = reason;

        var failure = FailureClassifier.Classify(status, Encoding.UTF8.GetBytes(body));

        Assert.True(failure.Reason.Length <= 120, failure.Reason);
        Assert.True(Ascii.IsValid(failure.Reason), failure.Reason);
        Assert.Matches(ReasonShape(), failure.Reason);
    }

    [Theory]
    [MemberData(nameof(StatusOnlyCases))]
    public void Classify_EmptyBody_FallsBackToStatus(int status, string kind) =>
        AssertClassified(status, "", kind, $"HTTP {status}");

    [Theory]
    [InlineData(301, "")]
    [InlineData(302, "")]
    [InlineData(307, """{"error":{"code":"content_filter","message":"prompt is too long"}}""")]
    [InlineData(308, "<html>Moved</html>")]
    public void Classify_Redirect_ModelNotFoundWithTheStatusWhateverTheBody(int status, string body) =>
        Assert.Equal(
            new Failure(FailureKind.ModelNotFound, status, $"HTTP {status} (redirect not followed)"),
            FailureClassifier.Classify(status, Encoding.UTF8.GetBytes(body)));

    [Theory]
    [MemberData(nameof(BodiesWithoutEvidence))]
    public void Classify_BodyWithoutEvidence_FallsBackToStatus(string body)
    {
        Assert.Equal(new Failure(FailureKind.InvalidRequest, 400, "HTTP 400"), FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)));
        Assert.Equal(new Failure(FailureKind.Transient, 503, "HTTP 503"), FailureClassifier.Classify(503, Encoding.UTF8.GetBytes(body)));
    }

    [Theory]
    [MemberData(nameof(Wordings))]
    public void Classify_MessageWithoutCode_IsJudgedByItsWording(string message, string kind)
    {
        var body = JsonSerializer.Serialize(new { error = new { message } });

        Assert.Equal(Enum.Parse<FailureKind>(kind), FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)).Kind);
    }

    [Fact]
    public void Classify_ContextLengthCodeOnA429_IsContextWindowExceeded()
    {
        var body = """{"error":{"message":"Please reduce the length of the messages or completion.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""";

        Assert.Equal(FailureKind.ContextWindowExceeded, FailureClassifier.Classify(429, Encoding.UTF8.GetBytes(body)).Kind);
    }

    [Fact]
    public void Classify_ContextWordingOnA5xx_IsContextWindowExceeded()
    {
        var body = """{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","code":400}""";

        Assert.Equal(FailureKind.ContextWindowExceeded, FailureClassifier.Classify(500, Encoding.UTF8.GetBytes(body)).Kind);
    }

    [Fact]
    public void Classify_ContentFilterCodeOnA5xx_IsContentFilter()
    {
        var body = """{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400}}""";

        Assert.Equal(new Failure(FailureKind.ContentFilter, 500, "HTTP 500 content_filter"), FailureClassifier.Classify(500, Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Classify_QuotaWordingOnA429WithRateLimitCode_IsQuotaExceeded()
    {
        var body = """{"error":{"message":"litellm.RateLimitError: RateLimitError: OpenAIException - You exceeded your current quota, please check your plan and billing details.","type":"throttling_error","param":null,"code":"429"}}""";

        Assert.Equal(new Failure(FailureKind.QuotaExceeded, 429, "HTTP 429 throttling_error (quota exceeded)"), FailureClassifier.Classify(429, Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Classify_CodeInsideEchoedRequest_IsIgnored()
    {
        // Mistral's 422 shape, whose validation detail echoes the request; a request may hold anything.
        var body = """{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","metadata"],"msg":"Extra inputs are not permitted","input":{"code":"content_filter","note":{"code":"insufficient_quota"}}}]},"type":"invalid_request_message_error","param":null,"code":null}""";

        Assert.Equal(new Failure(FailureKind.InvalidRequest, 422, "HTTP 422 invalid_request_message_error"), FailureClassifier.Classify(422, Encoding.UTF8.GetBytes(body)));
    }

    [Theory]
    [InlineData("""{"error":{"type":"invalid\u005Frequest_error","message":"prompt\u0020is too long: 210000 tokens \u003E 200000 maximum"}}""", "HTTP 400 invalid_request_error (context window exceeded)")]
    [InlineData("""{"error":{"message":"x","code":"\u0063ontent_filter"}}""", "HTTP 400 content_filter")]
    public void Classify_EscapedValues_AreDecodedBeforeMatching(string body, string reason) =>
        Assert.Equal(reason, FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)).Reason);

    [Fact]
    public void Classify_MalformedAfterACode_KeepsTheCode()
    {
        // A proxy that cuts a body short leaves what came before the cut readable.
        var body = """{"error":{"code":"content_filter","message":"The response was filt""";

        Assert.Equal(new Failure(FailureKind.ContentFilter, 400, "HTTP 400 content_filter"), FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Classify_CodeInOtherCase_IsRecognised()
    {
        var body = """{"error":{"message":"x","code":"CONTENT_FILTER"}}""";

        Assert.Equal(new Failure(FailureKind.ContentFilter, 400, "HTTP 400 content_filter"), FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Classify_Utf8ByteOrderMark_IsSkipped()
    {
        var body = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("""{"error":{"code":"insufficient_quota"}}""")).ToArray();

        Assert.Equal(FailureKind.QuotaExceeded, FailureClassifier.Classify(429, body).Kind);
    }

    [Fact]
    public void Classify_CodeBeforeHugeMessage_IsRead()
    {
        var body = $$$"""{"error":{"code":"context_length_exceeded","message":"{{{new string('x', 200_000)}}}"}}""";

        Assert.Equal(new Failure(FailureKind.ContextWindowExceeded, 400, "HTTP 400 context_length_exceeded"), FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Classify_CodeAfterTheFirst64KB_IsNotRead()
    {
        var body = $$$"""{"error":{"message":"{{{new string('x', 70_000)}}}","code":"context_length_exceeded"}}""";

        Assert.Equal(new Failure(FailureKind.InvalidRequest, 400, "HTTP 400"), FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void Classify_LongEscapedMessage_IsDecodedFromThePool()
    {
        var message = string.Concat(Enumerable.Repeat("Please wait \u2014 ", 100)) + "prompt is too long: 210000 tokens > 200000 maximum";
        var body = JsonSerializer.Serialize(new { type = "error", error = new { type = "invalid_request_error", message } });

        Assert.Contains("\\u2014", body, StringComparison.Ordinal);
        Assert.Equal(FailureKind.ContextWindowExceeded, FailureClassifier.Classify(400, Encoding.UTF8.GetBytes(body)).Kind);
    }

    [Fact]
    public void Classify_InvalidApiKeyBody_ReasonDoesNotQuoteTheKey()
    {
        var body = """{"error":{"message":"Incorrect API key provided: sk-v3s3w***************************************bfcr. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""";

        var failure = FailureClassifier.Classify(401, Encoding.UTF8.GetBytes(body));

        Assert.DoesNotContain("sk-", failure.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("bfcr", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_CallerCanceled_ReturnsCanceledWhateverWasThrown()
    {
        Exception[] thrown = [new OperationCanceledException(), new TaskCanceledException(), new HttpRequestException("reset"), new InvalidOperationException()];

        foreach (var exception in thrown)
        {
            Assert.Equal(new Failure(FailureKind.Canceled, null, "canceled by the caller"), FailureClassifier.Classify(exception, callerCanceled: true, AttemptTimeout));
        }
    }

    [Fact]
    public void Classify_TaskCanceledWithoutCallerCancellation_IsAttemptTimeout() =>
        Assert.Equal(
            new Failure(FailureKind.Transient, null, "attempt timed out after 00:00:30"),
            FailureClassifier.Classify(new TaskCanceledException(), callerCanceled: false, AttemptTimeout));

    [Fact]
    public void Classify_TimeoutException_IsAttemptTimeout() =>
        Assert.Equal(
            new Failure(FailureKind.Transient, null, "attempt timed out after 00:00:30"),
            FailureClassifier.Classify(new TimeoutException(), callerCanceled: false, AttemptTimeout));

    [Fact]
    public void Classify_ExceptionCausedByCancellation_IsAttemptTimeout()
    {
        // Polly's TimeoutRejectedException keeps the cancellation it caused as its inner exception, as this wrapper does.
        var rejected = new InvalidOperationException("The operation didn't complete within the allowed timeout of '00:00:30'.", new OperationCanceledException());

        Assert.Equal(
            new Failure(FailureKind.Transient, null, "attempt timed out after 00:00:30"),
            FailureClassifier.Classify(rejected, callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_HttpRequestExceptionWithError_NamesTheError()
    {
        var exception = new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (api.openai.test:443)", new SocketException((int)SocketError.ConnectionRefused));

        Assert.Equal(new Failure(FailureKind.Transient, null, "connection failed (ConnectionError)"), FailureClassifier.Classify(exception, callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_HttpRequestExceptionWithoutError_NamesTheSocketError()
    {
        var exception = new HttpRequestException("An error occurred while sending the request.", new SocketException((int)SocketError.ConnectionRefused));

        Assert.Equal(new Failure(FailureKind.Transient, null, "connection failed (ConnectionRefused)"), FailureClassifier.Classify(exception, callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_HttpIOExceptionMidBody_NamesTheError()
    {
        var exception = new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.");

        Assert.Equal(new Failure(FailureKind.Transient, null, "connection failed (ResponseEnded)"), FailureClassifier.Classify(exception, callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_IOExceptionMidBody_IsTransient()
    {
        var exception = new IOException("Unable to read data from the transport connection: Connection reset by peer.", new SocketException((int)SocketError.ConnectionReset));

        Assert.Equal(new Failure(FailureKind.Transient, null, "connection failed (ConnectionReset)"), FailureClassifier.Classify(exception, callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_NetworkExceptionWrappedInAggregate_IsTransient()
    {
        var exception = new AggregateException(new IOException("The connection was closed."));

        Assert.Equal(new Failure(FailureKind.Transient, null, "connection failed"), FailureClassifier.Classify(exception, callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_UnexpectedException_IsInvalidRequestSoTheBugIsNotRetried()
    {
        Assert.Equal(
            new Failure(FailureKind.InvalidRequest, null, "unexpected InvalidOperationException"),
            FailureClassifier.Classify(new InvalidOperationException("bug"), callerCanceled: false, AttemptTimeout));
        Assert.Equal(
            new Failure(FailureKind.InvalidRequest, null, "unexpected JsonException"),
            FailureClassifier.Classify(new JsonException("bad"), callerCanceled: false, AttemptTimeout));
    }

    [Fact]
    public void Classify_NullException_Throws() =>
        Assert.Throws<ArgumentNullException>(() => FailureClassifier.Classify(null!, callerCanceled: false, AttemptTimeout));

    private static void AssertClassified(int status, string body, string kind, string reason) =>
        Assert.Equal(new Failure(Enum.Parse<FailureKind>(kind), status, reason), FailureClassifier.Classify(status, Encoding.UTF8.GetBytes(body)));

    /// <summary>A reason is the status, an identifier, a parameter and a label, nothing else: no room for message text.</summary>
    [GeneratedRegex(@"^HTTP \d{3}( [A-Za-z0-9_.-]{1,48})?( \(param [A-Za-z0-9_.\[\]-]{1,48}\))?( \((context window exceeded|quota exceeded|content filtered)\))?$")]
    private static partial Regex ReasonShape();

    [Fact]
    public void Classify_503WithLatin1ByteInMessage_TransientByItsStatus()
    {
        byte[] body = [.. "{\"error\":{\"message\":\"Service indisponible, r"u8, 0xE9, .. "essayez\",\"type\":\"server_error\",\"code\":\"overloaded\"}}"u8];

        var failure = FailureClassifier.Classify(503, body);

        Assert.Equal(new Failure(FailureKind.Transient, 503, "HTTP 503 overloaded"), failure);
    }

    [Fact]
    public void Classify_QuotaCodeBesideAnUndecodableMessage_StillQuota()
    {
        byte[] body = [.. "{\"error\":{\"message\":\"\\ud800 "u8, 0xFF, .. "\",\"type\":\"insufficient_quota\"}}"u8];

        Assert.Equal(FailureKind.QuotaExceeded, FailureClassifier.Classify(429, body).Kind);
    }

    [Fact]
    public void Classify_AnswerLargerThanTheLimit_TransientNamingTheLimit()
    {
        var failure = FailureClassifier.Classify(new AgentHarness.Http.Internal.BodyTooLargeException("MaxResponseBytes", 1024, null), callerCanceled: false, AttemptTimeout);

        Assert.Equal(new Failure(FailureKind.Transient, null, "answer larger than MaxResponseBytes (1024 bytes)"), failure);
    }
}

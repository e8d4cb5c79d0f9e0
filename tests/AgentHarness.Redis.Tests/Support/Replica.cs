using System.Net;
using System.Text;
using AgentHarness.Redis;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Redis.Tests.Support;

/// <summary>One replica of an application: a harness on a Redis budget store, over an in-process transport.</summary>
internal sealed class Replica : IDisposable
{
    public const string Model = "up/m";

    /// <summary>$0.000001 per input token, $0.000004 per output token: every cost is exact to the picodollar.</summary>
    public const decimal InputPrice = 0.000001m;

    public const decimal OutputPrice = 0.000004m;

    private Replica(ServiceProvider services)
    {
        Services = services;
        Harness = services.GetRequiredService<IAgentHarness>();
        Guard = services.GetRequiredService<IBudgetGuard>();
        Store = services.GetRequiredService<RedisBudgetStore>();
        Ledger = services.GetRequiredService<IUsageLedger>();
    }

    public ServiceProvider Services { get; }

    public IAgentHarness Harness { get; }

    public IBudgetGuard Guard { get; }

    public RedisBudgetStore Store { get; }

    public IUsageLedger Ledger { get; }

    public ChatClient Client => Harness.GetChatClient(Model);

    public static Replica Create(HttpMessageHandler transport, Action<RedisBudgetStoreOptions> redis, Action<AgentHarnessOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        collection.AddAgentHarness()
            .AddProvider("up", static p =>
            {
                p.BaseUrl = new Uri("https://up.test/v1");
                p.ApiKey = "k";
                p.MaxRetries = 0;
                p.RetryBaseDelay = TimeSpan.Zero;
            })
            .Configure(o =>
            {
                o.Catalog.Models[Model] = new ModelPriceOptions { InputPerToken = InputPrice, OutputPerToken = OutputPrice, MaxOutputTokens = 1000 };
                configure?.Invoke(o);
            })
            .AddRedisBudgetStore(redis)
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => transport));
        return new Replica(collection.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }));
    }

    /// <summary>A chat completion that used <paramref name="input"/> and <paramref name="output"/> tokens.</summary>
    public static HttpResponseMessage Answer(int input, int output) => new(HttpStatusCode.OK)
    {
        Content = new StringContent(
            $$$"""{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":{{{input}}},"completion_tokens":{{{output}}},"total_tokens":{{{input + output}}}}}""",
            Encoding.UTF8,
            "application/json"),
    };

    public void Dispose() => Services.Dispose();
}

/// <summary>A transport that answers with a delegate.</summary>
internal sealed class DelegateHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        return answer(request, cancellationToken);
    }
}

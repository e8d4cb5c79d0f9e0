using System.ComponentModel;

namespace CodeReviewAgent;

/// <summary>What kind of change a diff is; the labels the model sees are bug-fix, feature, refactor and docs.</summary>
internal enum ChangeCategory
{
    [Description("fixes a defect")]
    BugFix,

    [Description("adds new behaviour")]
    Feature,

    [Description("restructures code without changing behaviour")]
    Refactor,

    [Description("changes documentation only")]
    Docs,
}

using VaeTools.Internal;

namespace VaeTools.Tests.TestSupport;

/// <summary>Runs in parallel with the other tests: installs nothing.</summary>
public class TestHooksOutsideTheCollectionTests
{
    [Fact]
    public void A_test_outside_the_hooks_collection_cannot_install_hooks_and_sees_none()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Hooks.Install(new TestHooks { NoShareHelp = true }));
        Assert.Contains(nameof(TestHooksOutsideTheCollectionTests), e.Message);
        Assert.Null(TestHooks.Current); // the collection's tests run only after the parallel ones
    }
}

[Collection(TestHooksCollection.Name)]
public class TestHooksTests
{
    [Fact]
    public async Task Hooks_are_current_while_installed_one_set_at_a_time()
    {
        Assert.Null(TestHooks.Current);
        var hooks = new TestHooks();
        using (Hooks.Install(hooks))
        {
            Assert.Same(hooks, TestHooks.Current);
            Assert.Throws<InvalidOperationException>(() => TestHooks.Install(new TestHooks()));
            Assert.Same(hooks, TestHooks.Current);
            await Task.Run(() => Assert.Same(hooks, TestHooks.Current)); // every thread sees them
        }
        Assert.Null(TestHooks.Current);
    }
}

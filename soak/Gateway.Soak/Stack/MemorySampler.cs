namespace Gateway.Soak.Stack;

/// <summary>Resident memory of each part, sampled every few seconds: the first and last sample and the largest.</summary>
public sealed class MemorySampler(LocalStack stack, TimeProvider time)
{
    private readonly Dictionary<StackPart, List<long>> _samples = new()
    {
        [StackPart.Prosody] = [], [StackPart.Service] = [], [StackPart.Gateway] = [],
    };

    public async Task RunAsync(TimeSpan interval, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Sample();
            try
            {
                await Task.Delay(interval, time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public void Sample()
    {
        lock (_samples)
            foreach (var (part, samples) in _samples)
                if (stack.ResidentBytes(part) is { } bytes) samples.Add(bytes);
    }

    public IReadOnlyDictionary<StackPart, (long First, long Last, long Max)> Summary()
    {
        lock (_samples)
            return _samples.Where(s => s.Value.Count > 0).ToDictionary(s => s.Key, s => (s.Value[0], s.Value[^1], s.Value.Max()));
    }
}

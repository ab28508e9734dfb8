// Tests boot hosts and a real Prosody: keep them off each other's toes on a small machine.
[assembly: CollectionBehavior(DisableTestParallelization = false, MaxParallelThreads = 2)]

namespace Gateway.Fuzz.Targets.Sip;

/// <summary>
/// A fuzz target's own consistency check failed: no parser threw, but what it produced contradicts what the library
/// promises (our writer's output refused by our parser, a parse/serialise round trip that changes the value). Like
/// any exception a target does not catch, it is a finding.
/// </summary>
public sealed class FuzzOracleException : Exception
{
    public FuzzOracleException() { }
    public FuzzOracleException(string message) : base(message) { }
    public FuzzOracleException(string message, Exception innerException) : base(message, innerException) { }
}

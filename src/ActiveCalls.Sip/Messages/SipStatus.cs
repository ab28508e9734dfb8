namespace ActiveCalls.Sip.Messages;

/// <summary>Method names and the reason phrases of RFC 3261 §21.</summary>
public static class SipMethods
{
    public const string Invite = "INVITE";
    public const string Ack = "ACK";
    public const string Bye = "BYE";
    public const string Cancel = "CANCEL";
    public const string Options = "OPTIONS";
    public const string Register = "REGISTER";
    public const string Info = "INFO";
    public const string Update = "UPDATE";
    public const string Prack = "PRACK";
    public const string Refer = "REFER";
    public const string Notify = "NOTIFY";
    public const string Subscribe = "SUBSCRIBE";
    public const string Message = "MESSAGE";
}

public static class SipStatus
{
    public static string DefaultReason(int code) => code switch
    {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ when code < 200 => "Session Progress",
        _ when code < 300 => "OK",
        _ when code < 400 => "Redirection",
        _ when code < 500 => "Client Error",
        _ when code < 600 => "Server Error",
        _ => "Global Failure",
    };
}

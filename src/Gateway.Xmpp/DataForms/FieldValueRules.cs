using System.Xml;
using Gateway.Xmpp.Core;

namespace Gateway.Xmpp.DataForms;

/// <summary>The checks a field type imposes on the values put into it (XEP-0004 §3.3).</summary>
internal static class FieldValueRules
{
    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="values"/> cannot be the values of a field of
    /// <paramref name="type"/>. <see cref="FormFieldType.Unspecified"/> is only checked for XML-legal characters: the
    /// receiver's type is not known.</summary>
    public static void Check(string var, FormFieldType type, IReadOnlyList<string> values, string paramName)
    {
        foreach (var value in values)
        {
            ArgumentNullException.ThrowIfNull(value, paramName);
            if (IndexOfInvalidXmlChar(value) is var index and >= 0)
                throw new ArgumentException(
                    $"Field '{var}': value contains U+{(int)value[index]:X4}, which XML cannot carry.", paramName);
        }
        if (type == FormFieldType.Unspecified) return;
        if (!type.IsMultiValued() && values.Count > 1)
            throw new ArgumentException(
                $"Field '{var}' is {type.ToWireName()}, which takes one value; got {values.Count}.", paramName);
        switch (type)
        {
            case FormFieldType.Boolean:
                foreach (var value in values)
                    if (!TryParseBoolean(value, out _))
                        throw new ArgumentException($"Field '{var}' is boolean: '{value}' is not one of 0, 1, true, false.", paramName);
                break;
            case FormFieldType.JidSingle or FormFieldType.JidMulti:
                foreach (var value in values)
                    if (!Jid.TryParse(value, out _))
                        throw new ArgumentException($"Field '{var}' is {type.ToWireName()}: '{value}' is not a JID.", paramName);
                break;
        }
    }

    /// <summary>XEP-0004 booleans are xs:boolean: exactly <c>0</c>, <c>1</c>, <c>true</c> or <c>false</c>.</summary>
    public static bool TryParseBoolean(string? value, out bool result)
    {
        switch (value)
        {
            case "1" or "true": result = true; return true;
            case "0" or "false": result = false; return true;
            default: result = false; return false;
        }
    }

    private static int IndexOfInvalidXmlChar(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (XmlConvert.IsXmlChar(c)) continue;
            if (i + 1 < value.Length && XmlConvert.IsXmlSurrogatePair(value[i + 1], c)) { i++; continue; }
            return i;
        }
        return -1;
    }
}

using Gateway.Xmpp.Sasl;

namespace Gateway.Xmpp.Tests.Sasl;

/// <summary>RFC 4013 §3 examples, except #7 (the bidi rule is not implemented; see <see cref="SaslPrep"/>).</summary>
public class SaslPrepTests
{
    [Theory]
    [InlineData("I\u00ADX", "IX")]         // soft hyphen mapped to nothing
    [InlineData("user", "user")]
    [InlineData("USER", "USER")]           // case preserved
    [InlineData("\u00AA", "a")]            // NFKC
    [InlineData("\u2168", "IX")]           // NFKC
    [InlineData("a\u00A0b", "a b")]        // non-ASCII space mapped to SPACE
    [InlineData("a\u200Bb", "ab")]         // zero-width space mapped to nothing
    [InlineData("p\u00E4ss", "p\u00E4ss")] // already NFKC
    [InlineData("a\u0308", "\u00E4")]      // composed by NFKC
    public void PreparesAsRfc4013Specifies(string input, string expected) =>
        Assert.Equal(expected, SaslPrep.Prepare(input));

    [Theory]
    [InlineData("\u0007")]   // C.2.1
    [InlineData("a\0b")]     // C.2.1
    [InlineData("a\u0085")]  // C.2.2
    [InlineData("a\u2028")]  // C.2.2
    [InlineData("\uE000")]   // C.3
    [InlineData("\uFDD0")]   // C.4
    [InlineData("\uFFFD")]   // C.6
    [InlineData("\u2FF0")]   // C.7
    [InlineData("\u200E")]   // C.8
    public void ProhibitedCharactersFail(string input) => Assert.Null(SaslPrep.Prepare(input));

    [Fact]
    public void UnpairedSurrogatesFail()
    {
        Assert.Null(SaslPrep.Prepare("a\uD800b"));
        Assert.Null(SaslPrep.Prepare("a\uDC00"));
    }

    [Fact]
    public void PrivateUseAndTaggingCharactersOutsideTheBmpFail()
    {
        Assert.Null(SaslPrep.Prepare("a" + char.ConvertFromUtf32(0xF0000)));
        Assert.Null(SaslPrep.Prepare("a" + char.ConvertFromUtf32(0xE0001)));
        Assert.Null(SaslPrep.Prepare("a" + char.ConvertFromUtf32(0x1FFFF)));
    }
}

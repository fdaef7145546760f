package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class StripeSignatureTest {
  static final byte[] BODY = "{\"id\":\"evt_1\"}".getBytes(StandardCharsets.UTF_8);
  final MutableClock clock = new MutableClock(Instant.parse("2026-11-28T12:00:00Z"));
  final StripeSignature verifier = new StripeSignature("whsec_abc12345", clock, StripeSignature.DEFAULT_TOLERANCE);
  final long t = clock.instant().getEpochSecond();

  @Test
  void accepts_a_signature_at_the_edges_of_the_tolerance() {
    String header = verifier.header(t, BODY);
    clock.advance(Duration.ofSeconds(300));
    assertThatCode(() -> verifier.verify(header, BODY)).doesNotThrowAnyException();
  }

  @Test
  void refuses_a_signature_one_second_past_the_tolerance_either_way() {
    String header = verifier.header(t, BODY);
    clock.advance(Duration.ofSeconds(301));
    assertThatThrownBy(() -> verifier.verify(header, BODY)).hasMessageContaining("tolerance");
    String future = verifier.header(clock.instant().getEpochSecond() + 301, BODY);
    assertThatThrownBy(() -> verifier.verify(future, BODY)).hasMessageContaining("tolerance");
  }

  @Test
  void accepts_when_any_v1_matches_while_a_secret_rolls() {
    String good = verifier.header(t, BODY);
    String header = "t=" + t + ",v1=" + "00".repeat(32) + ",v0=ignored," + good.substring(good.indexOf("v1="));
    assertThatCode(() -> verifier.verify(header, BODY)).doesNotThrowAnyException();
  }

  @Test
  void refuses_a_changed_body_another_secret_or_a_timestamp_moved_under_the_signature() {
    String header = verifier.header(t, BODY);
    assertThatThrownBy(() -> verifier.verify(header, "{\"id\":\"evt_2\"}".getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("does not match");
    StripeSignature other = new StripeSignature("whsec_other123", clock, StripeSignature.DEFAULT_TOLERANCE);
    assertThatThrownBy(() -> verifier.verify(other.header(t, BODY), BODY)).hasMessageContaining("does not match");
    String moved = header.replace("t=" + t, "t=" + (t - 1));
    assertThatThrownBy(() -> verifier.verify(moved, BODY)).hasMessageContaining("does not match");
  }

  @Test
  void refuses_headers_without_a_timestamp_or_a_signature() {
    assertThatThrownBy(() -> verifier.verify("v1=abcd", BODY)).hasMessageContaining("timestamp");
    assertThatThrownBy(() -> verifier.verify("t=" + t, BODY)).hasMessageContaining("no v1");
    assertThatThrownBy(() -> verifier.verify("t=soon,v1=ab", BODY)).hasMessageContaining("not a number");
    assertThatThrownBy(() -> verifier.verify("", BODY)).hasMessageContaining("Missing");
  }
}

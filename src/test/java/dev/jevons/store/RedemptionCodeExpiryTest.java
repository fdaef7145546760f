package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.MutableClock;
import dev.jevons.billing.CreditResult;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.TopUps;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A redemption code's expiry is checked when it is redeemed, on a fake clock, on both databases. */
class RedemptionCodeExpiryTest {
  static final Instant T = Instant.parse("2026-11-28T12:00:00Z");
  @TempDir Path dir;

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_code_redeems_until_its_expiry_and_is_refused_from_that_instant_on(TestDatabases.Kind kind) throws Exception {
    MutableClock clock = new MutableClock(T);
    try (Database db = TestDatabases.open(kind, dir);
        Ledger ledger = new Ledger(new SqlLedgerStore(db), clock)) {
      TopUps topUps = new TopUps(new SqlTopUpStore(db), ledger, clock, new SecureRandom());
      Instant expiry = T.plus(Duration.ofHours(1));
      var codes = topUps.createCodes(2_000_000_000L, 2, expiry);

      clock.advance(Duration.ofHours(1).minusMillis(1));
      CreditResult credited = topUps.redeem(codes.get(0), "acct_early").get(10, TimeUnit.SECONDS);
      assertThat(credited.amountNanos()).isEqualTo(2_000_000_000L);

      clock.advance(Duration.ofMillis(1));
      assertThatThrownBy(() -> topUps.redeem(codes.get(1), "acct_late"))
          .isInstanceOf(TopUps.RefusedException.class)
          .hasMessage("The redemption code '" + codes.get(1) + "' expired at 2026-11-28T13:00:00Z.");
      assertThat(ledger.balance("acct_late").totalNanos()).isZero();
      // Refused, not consumed: the code stays unredeemed (an operator can see it was never used).
      assertThat(new SqlTopUpStore(db).code(sha256(codes.get(1))).orElseThrow().redeemedBy()).isNull();
    }
  }

  static String sha256(String code) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(code.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }
}

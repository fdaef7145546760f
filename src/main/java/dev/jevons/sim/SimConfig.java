package dev.jevons.sim;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Configuration of a simulated inference server (every replica of a fleet gets the same one).
 *
 * @param profile engine profile: instant, h800 or small (see {@link EngineProfile})
 * @param models model names served; all share the replica's one engine
 * @param timeScale divides every simulated duration (2 = twice as fast); in (0, 1e6]
 * @param apiKey bearer token required on /v1 routes, or null for none
 * @param faults fault injection
 * @param seed seeds fault draws and the text of requests that carry no {@code seed}
 */
public record SimConfig(
    String profile,
    List<String> models,
    double timeScale,
    @Nullable String apiKey,
    FaultPlan faults,
    long seed) {

  public SimConfig {
    EngineProfile.byName(profile); // throws naming the accepted profiles
    models = List.copyOf(models);
    if (models.isEmpty()) throw new IllegalArgumentException("models must not be empty");
    for (String m : models) {
      if (m.isBlank() || m.length() > 256) {
        throw new IllegalArgumentException("model names must be 1..256 characters: '" + m + "'");
      }
    }
    if (models.stream().distinct().count() != models.size()) {
      throw new IllegalArgumentException("duplicate model names: " + models);
    }
    if (!(timeScale > 0 && timeScale <= 1e6)) {
      throw new IllegalArgumentException("timeScale must be in (0, 1000000]: " + timeScale);
    }
    if (apiKey != null && apiKey.isBlank()) {
      throw new IllegalArgumentException("apiKey must not be blank (use null for none)");
    }
  }

  public static SimConfig defaults() {
    return new SimConfig("h800", List.of("sim-chat", "sim-reasoner"), 1.0, null, FaultPlan.none(), 0L);
  }

  public SimConfig withProfile(String newProfile) {
    return new SimConfig(newProfile, models, timeScale, apiKey, faults, seed);
  }

  EngineProfile engineProfile() {
    return EngineProfile.byName(profile);
  }

  @Override
  public String toString() {
    // The key is a secret: never log it.
    return "SimConfig[profile=" + profile + ", models=" + models + ", timeScale=" + timeScale
        + ", apiKey=" + (apiKey == null ? "none" : "****") + ", faults=" + faults + ", seed=" + seed
        + "]";
  }
}

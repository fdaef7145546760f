package dev.jevons.cli;

import dev.jevons.config.ConfigLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The flags that start a gateway, shared by {@code jevons serve} and {@code jevons demo} (a picocli
 * mixin), and the loader they feed: flags beat {@code JEVONS_*} environment variables, which beat
 * the {@code --config} file.
 */
final class ServeOptions {
  @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration file (default: $JEVONS_CONFIG if set).")
  @Nullable Path configFile;

  @Option(names = "--data", paramLabel = "DIR", description = "Data directory for the SQLite store and the admin token (default ./data).")
  @Nullable String dataDir;

  @Option(names = "--host", description = "Address to listen on (default 127.0.0.1).")
  @Nullable String host;

  @Option(names = "--port", description = "HTTP port (default 8080; 0 picks a free one).")
  @Nullable Integer port;

  @Option(names = "--store-url", paramLabel = "JDBC_URL", description = "jdbc:sqlite:FILE or jdbc:postgresql://HOST:PORT/DB.")
  @Nullable String storeUrl;

  @Option(names = "--upstream", paramLabel = "URL", description = "An OpenAI-compatible inference server, e.g. http://127.0.0.1:8000/v1; repeatable. Models are discovered from its /v1/models.")
  List<String> upstreams = new ArrayList<>();

  @Option(names = "--sim-profile", paramLabel = "NAME", description = "Profile of the built-in simulator: instant, h800 (default) or small.")
  @Nullable String simProfile;

  @Option(names = "--sim-replicas", paramLabel = "N", description = "Number of built-in simulated replicas (default 2).")
  @Nullable Integer simReplicas;

  /**
   * A loader with the file, the environment and these flags in place; a caller may add lower
   * layers ({@link ConfigLoader#defaultValue}) or forced values before {@link ConfigLoader#load}.
   */
  ConfigLoader loader(Map<String, String> env) {
    Path file = configFile;
    if (file == null && env.get("JEVONS_CONFIG") != null) {
      file = Path.of(env.get("JEVONS_CONFIG"));
    }
    return new ConfigLoader()
        .file(file)
        .environment(env)
        .override("data_dir", dataDir)
        .override("server.host", host)
        .override("server.port", port)
        .override("store.url", storeUrl)
        .override("sim.profile", simProfile)
        .override("sim.replicas", simReplicas)
        .upstreamUrls(upstreams);
  }
}

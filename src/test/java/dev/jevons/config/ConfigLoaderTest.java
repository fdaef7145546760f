package dev.jevons.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.jevons.cli.ServeCommand;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ConfigLoaderTest {
  @TempDir Path tmp;

  private Path yaml(String text) throws IOException {
    Path f = tmp.resolve("jevons.yaml");
    Files.writeString(f, text, StandardCharsets.UTF_8);
    return f;
  }

  private static ConfigException problemsOf(ConfigLoader loader) {
    return catchThrowableOfType(ConfigException.class, loader::load);
  }

  @Test
  void loads_the_documented_defaults_with_nothing_configured() {
    JevonsConfig c = new ConfigLoader().load();
    assertThat(c.server().host()).isEqualTo("127.0.0.1");
    assertThat(c.server().port()).isEqualTo(8080);
    assertThat(c.server().maxBodyBytes()).isEqualTo(8L << 20);
    assertThat(c.server().maxHeaderBytes()).isEqualTo(16 << 10);
    assertThat(c.server().clientReadTimeoutMillis()).isEqualTo(30_000);
    assertThat(c.server().accessLog()).isTrue();
    assertThat(c.dataDir()).isEqualTo(Path.of("./data"));
    assertThat(c.store().url()).isEqualTo("jdbc:sqlite:" + Path.of("./data").resolve("jevons.db"));
    assertThat(c.adminToken()).isNull();
    assertThat(c.upstreams()).isEmpty();
    assertThat(c.usesSimulator()).isTrue();
    assertThat(c.sim().replicas()).isEqualTo(2);
    assertThat(c.sim().profile()).isEqualTo("h800");
    assertThat(c.sim().models()).containsExactly("sim-chat", "sim-reasoner");
    assertThat(c.upstreamPolicy().maxAttempts()).isEqualTo(2);
  }

  @Test
  void reads_values_from_the_yaml_file() throws IOException {
    Path f =
        yaml(
            """
            server:
              host: 0.0.0.0
              port: 9090
              max_body_bytes: 65536
              access_log: false
            data_dir: /var/lib/jevons
            sim:
              profile: small
              models: [a, b]
            upstream:
              max_attempts: 3
            """);
    JevonsConfig c = new ConfigLoader().file(f).load();
    assertThat(c.server().host()).isEqualTo("0.0.0.0");
    assertThat(c.server().port()).isEqualTo(9090);
    assertThat(c.server().maxBodyBytes()).isEqualTo(65536);
    assertThat(c.server().accessLog()).isFalse();
    assertThat(c.dataDir()).isEqualTo(Path.of("/var/lib/jevons"));
    assertThat(c.store().url()).isEqualTo("jdbc:sqlite:/var/lib/jevons/jevons.db");
    assertThat(c.sim().profile()).isEqualTo("small");
    assertThat(c.sim().models()).containsExactly("a", "b");
    assertThat(c.upstreamPolicy().maxAttempts()).isEqualTo(3);
  }

  @Test
  void an_environment_variable_beats_the_file() throws IOException {
    Path f = yaml("server:\n  port: 9090\n");
    JevonsConfig c = new ConfigLoader().file(f).environment(Map.of("JEVONS_SERVER_PORT", "7070")).load();
    assertThat(c.server().port()).isEqualTo(7070);
  }

  @Test
  void a_command_default_replaces_the_built_in_one_and_gives_way_to_file_environment_and_flags() throws IOException {
    Path f = yaml("sim:\n  replicas: 3\n");
    JevonsConfig c =
        new ConfigLoader()
            .file(f)
            .environment(Map.of("JEVONS_SERVER_PORT", "7070"))
            .override("scheduler.max_wait_ms", 1500)
            .defaultValue("sim.profile", "small")
            .defaultValue("sim.replicas", 1)
            .defaultValue("server.port", 0)
            .defaultValue("scheduler.max_wait_ms", 2000)
            .load();
    assertThat(c.sim().profile()).isEqualTo("small");
    assertThat(c.sim().replicas()).isEqualTo(3);
    assertThat(c.server().port()).isEqualTo(7070);
    assertThat(c.scheduler().maxWaitMillis()).isEqualTo(1500);
  }

  @Test
  void an_override_beats_the_environment_and_the_file() throws IOException {
    Path f = yaml("server:\n  port: 9090\n");
    JevonsConfig c =
        new ConfigLoader()
            .file(f)
            .environment(Map.of("JEVONS_SERVER_PORT", "7070"))
            .override("server.port", 6060)
            .load();
    assertThat(c.server().port()).isEqualTo(6060);
  }

  @Test
  void environment_variable_names_follow_the_keys() {
    assertThat(ConfigLoader.envName("server.max_body_bytes")).isEqualTo("JEVONS_SERVER_MAX_BODY_BYTES");
    assertThat(ConfigLoader.envName("data_dir")).isEqualTo("JEVONS_DATA_DIR");
  }

  @Test
  void rejects_an_unknown_key_in_the_file_naming_it_and_the_accepted_keys() throws IOException {
    ConfigException e = problemsOf(new ConfigLoader().file(yaml("server:\n  prot: 9090\n")));
    assertThat(e.problems()).hasSize(1);
    assertThat(e.problems().get(0)).contains("server.prot").contains("unknown key").contains("port").contains("max_body_bytes");
  }

  @Test
  void rejects_an_unknown_top_level_key_naming_the_accepted_ones() throws IOException {
    ConfigException e = problemsOf(new ConfigLoader().file(yaml("servers:\n  port: 9090\n")));
    assertThat(e.problems()).singleElement().asString().contains("servers").contains("server").contains("upstreams");
  }

  @Test
  void rejects_an_unknown_upstream_key() throws IOException {
    ConfigException e = problemsOf(new ConfigLoader().file(yaml("upstreams:\n  - url: http://h:8000/v1\n    apikey: x\n")));
    assertThat(e.problems()).singleElement().asString().contains("upstreams[0].apikey").contains("api_key");
  }

  @Test
  void rejects_an_unknown_override_key() {
    assertThatThrownBy(() -> new ConfigLoader().override("server.prot", 1)).hasMessageContaining("server.prot");
  }

  @Test
  void rejects_a_wrong_type_naming_the_key_and_the_range() throws IOException {
    ConfigException e = problemsOf(new ConfigLoader().file(yaml("server:\n  port: eighty\n")));
    assertThat(e.problems()).singleElement().asString()
        .contains("server.port").contains("eighty").contains("not an integer").contains("0 to 65535");
  }

  @Test
  void rejects_an_out_of_range_value_naming_the_key_and_the_range() {
    ConfigException e = problemsOf(new ConfigLoader().environment(Map.of("JEVONS_SERVER_MAX_BODY_BYTES", "10")));
    assertThat(e.problems()).singleElement().asString()
        .contains("server.max_body_bytes").contains("10").contains("out of range").contains("1024 to 1073741824");
  }

  @Test
  void rejects_a_bad_boolean_and_a_bad_choice_naming_the_accepted_values() {
    ConfigException e =
        problemsOf(new ConfigLoader().override("server.access_log", "maybe").override("sim.profile", "huge"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("server.access_log").contains("true or false"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("sim.profile").contains("h800").contains("instant"));
  }

  @Test
  void rejects_governor_thresholds_that_would_flap_and_a_bad_sign_up_grant() {
    ConfigException e =
        problemsOf(new ConfigLoader()
            .override("governor.close_shed_rate", "0.05")
            .override("governor.reopen_shed_rate", "0.10")
            .override("governor.interval_ms", "10000")
            .override("governor.window_ms", "5000")
            .override("signups.grant", "ten dollars"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("governor.reopen_shed_rate").contains("must be below governor.close_shed_rate"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("governor.window_ms").contains("governor.interval_ms"));
    assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("signups.grant").contains("decimal amount"));
  }

  @Test
  void the_governor_defaults_are_on_with_ten_minutes_to_close_and_half_an_hour_to_reopen() {
    JevonsConfig.Governor g = new ConfigLoader().load().governor();
    assertThat(g.enabled()).isTrue();
    assertThat(g.closeDwellMillis()).isEqualTo(600_000);
    assertThat(g.reopenDwellMillis()).isEqualTo(1_800_000);
    assertThat(new ConfigLoader().load().signups().enabled()).isFalse();
  }

  @Test
  void reports_several_problems_together() throws IOException {
    Path f =
        yaml(
            """
            server:
              port: -1
              max_header_bytes: lots
              colour: blue
            store:
              url: mysql://db
            """);
    ConfigException e = problemsOf(new ConfigLoader().file(f));
    assertThat(e.problems()).hasSizeGreaterThanOrEqualTo(4);
    assertThat(String.join("\n", e.problems()))
        .contains("server.port")
        .contains("server.max_header_bytes")
        .contains("server.colour")
        .contains("store.url");
    assertThat(e.getMessage()).contains("server.port").contains("store.url");
  }

  @Test
  void reports_a_missing_file_and_invalid_yaml_clearly() throws IOException {
    assertThat(problemsOf(new ConfigLoader().file(tmp.resolve("nope.yaml"))).problems())
        .singleElement().asString().contains("nope.yaml").contains("no such file");
    assertThat(problemsOf(new ConfigLoader().file(yaml("server: [unclosed\n"))).problems())
        .singleElement().asString().contains("not valid YAML");
    assertThat(problemsOf(new ConfigLoader().file(yaml("- a\n- b\n"))).problems())
        .singleElement().asString().contains("top level");
  }

  @Test
  void parses_upstream_urls_with_and_without_v1() {
    JevonsConfig c =
        new ConfigLoader().upstreamUrls(List.of("http://gpu1:8000/v1", "http://gpu2:8001", "https://api.example/v1/")).load();
    assertThat(c.upstreams()).extracting(JevonsConfig.Upstream::baseUrl)
        .containsExactly(URI.create("http://gpu1:8000/v1"), URI.create("http://gpu2:8001/v1"), URI.create("https://api.example:443/v1"));
    assertThat(c.usesSimulator()).isFalse();
    assertThat(c.upstreams().get(0).models()).isEmpty();
  }

  @Test
  void upstream_flags_replace_the_files_list() throws IOException {
    Path f = yaml("upstreams:\n  - name: a\n    url: http://a:1/v1\n  - name: b\n    url: http://b:2/v1\n");
    JevonsConfig c = new ConfigLoader().file(f).upstreamUrls(List.of("http://c:3/v1")).load();
    assertThat(c.upstreams()).singleElement().satisfies(u -> assertThat(u.baseUrl()).isEqualTo(URI.create("http://c:3/v1")));
  }

  @Test
  void rejects_bad_upstream_urls_naming_them() {
    ConfigException e = problemsOf(new ConfigLoader().upstreamUrls(List.of("ftp://x/v1", "http://", "http://bad host/")));
    assertThat(e.problems()).hasSize(3);
    assertThat(e.problems().get(0)).contains("upstreams[0].url").contains("ftp://x/v1").contains("http://");
    assertThat(e.problems().get(1)).contains("upstreams[1].url");
    assertThat(e.problems().get(2)).contains("upstreams[2].url").contains("bad host");
  }

  @Test
  void rejects_duplicate_upstream_names() throws IOException {
    Path f = yaml("upstreams:\n  - name: a\n    url: http://a:1/v1\n  - name: a\n    url: http://b:2/v1\n");
    assertThat(problemsOf(new ConfigLoader().file(f)).problems()).singleElement().asString().contains("'a'").contains("twice");
  }

  @Test
  void describe_masks_every_secret() throws IOException {
    Path f =
        yaml(
            """
            admin:
              token: adm-supersecret-token
            store:
              url: jdbc:postgresql://db:5432/jevons
              user: jevons
              password: pg-supersecret
            upstreams:
              - url: http://gpu:8000/v1
                api_key: sk-upstream-supersecret
            """);
    Map<String, String> d = new ConfigLoader().file(f).load().describe();
    assertThat(d.toString()).doesNotContain("supersecret");
    assertThat(d.get("admin.token")).contains("****");
    assertThat(d.get("store.password")).contains("****");
    assertThat(d.get("upstreams[0].api_key")).contains("****");
    assertThat(d.get("store.user")).isEqualTo("jevons");
    assertThat(List.copyOf(d.keySet())).isSorted();
  }

  @Test
  void without_a_redis_url_rate_limits_stay_in_the_process() {
    JevonsConfig.Redis r = new ConfigLoader().load().redis();
    assertThat(r.url()).isNull();
    assertThat(r.keyPrefix()).isEqualTo("jevons:");
    assertThat(r.timeoutMillis()).isEqualTo(250);
    assertThat(new ConfigLoader().environment(Map.of("JEVONS_REDIS_URL", "")).load().redis().url()).isNull();
  }

  @Test
  void reads_redis_settings_and_masks_the_password() throws IOException {
    Path f =
        yaml(
            """
            redis:
              url: redis://jevons:redis-supersecret@cache:6380/2
              key_prefix: "prod:jevons:"
              timeout_ms: 100
            """);
    JevonsConfig c = new ConfigLoader().file(f).load();
    assertThat(c.redis()).isEqualTo(new JevonsConfig.Redis("redis://jevons:redis-supersecret@cache:6380/2", "prod:jevons:", 100));
    assertThat(c.describe().get("redis.url")).isEqualTo("redis://jevons:****@cache:6380/2");
    assertThat(c.describe().toString()).doesNotContain("supersecret");
    assertThat(new ConfigLoader().environment(Map.of("JEVONS_REDIS_URL", "rediss://:pw-supersecret@cache/0")).load().describe().get("redis.url"))
        .isEqualTo("rediss://:****@cache/0");
  }

  @Test
  void rejects_bad_redis_settings_naming_the_key() {
    ConfigException e =
        problemsOf(
            new ConfigLoader()
                .override("redis.url", "http://cache:6379")
                .override("redis.key_prefix", "has space")
                .override("redis.timeout_ms", 5));
    assertThat(e.getMessage())
        .contains("redis.url: 'http://cache:6379' must be a redis:// or rediss:// URL")
        .contains("redis.key_prefix: 'has space' must be 1 to 64 characters")
        .contains("redis.timeout_ms");
    assertThat(problemsOf(new ConfigLoader().override("redis.url", "redis://:pw-supersecret@cache:6379/db")).getMessage())
        .contains("redis.url").contains("names no database number").doesNotContain("supersecret");
  }

  @Test
  void the_stripe_webhook_secret_comes_from_the_environment_and_is_masked() {
    JevonsConfig c = new ConfigLoader().environment(Map.of("JEVONS_STRIPE_WEBHOOK_SECRET", "whsec_supersecret")).load();
    assertThat(c.stripe().webhookSecret()).isEqualTo("whsec_supersecret");
    assertThat(c.describe().get("stripe.webhook_secret")).contains("****").doesNotContain("supersecret");
    assertThat(new ConfigLoader().load().stripe().webhookSecret()).isNull();
  }

  @Test
  void serve_exits_with_2_on_a_bad_configuration_file() throws IOException {
    Path f = yaml("server:\n  prot: 1\n");
    assertThat(runServe("--config", f.toString())).isEqualTo(2);
  }

  @Test
  void serve_exits_with_2_on_a_negative_port() {
    assertThat(runServe("--port", "-5", "--data", tmp.toString())).isEqualTo(2);
  }

  @Test
  @Timeout(60) // before the fix, serve printed a banner for port -1 and waited forever
  void serve_exits_with_1_when_its_port_is_taken_instead_of_listening_nowhere() throws IOException {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      String port = String.valueOf(taken.getLocalPort());
      PrintStream err = System.err;
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        int code = new CommandLine(new ServeCommand()).execute("--port", port, "--data", tmp.toString(), "--sim-profile", "instant");
        assertThat(code).isEqualTo(1);
        assertThat(captured.toString(StandardCharsets.UTF_8))
            .contains("jevons: cannot start: cannot listen on 127.0.0.1:" + port)
            .contains("Address already in use");
      } finally {
        System.setErr(err);
      }
    }
  }

  private static int runServe(String... args) {
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      int code = new CommandLine(new ServeCommand()).execute(args);
      assertThat(captured.toString(StandardCharsets.UTF_8)).contains("invalid configuration");
      return code;
    } finally {
      System.setErr(err);
    }
  }
}

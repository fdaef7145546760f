package dev.jevons.cli;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jevons admin usage export}: an account's usage records over a time range, as CSV or
 * JSON, however many there are. It reads the admin usage API page by page, each page after the
 * last record of the one before ({@code after}, keyset paging over arrival then id), so nothing
 * is written twice or left out. The end of the range is fixed when the export starts, so requests
 * still arriving do not make it run on. A file is written whole or not at all.
 */
@Command(name = "usage", mixinStandardHelpOptions = true, description = "Export usage records.", subcommands = {AdminUsageCommand.Export.class})
final class AdminUsageCommand implements Runnable {
  @ParentCommand AdminCommand admin;

  @Override
  public void run() {
    admin.out.println("Use: export. See 'jevons admin usage export --help'.");
  }

  enum Format {
    csv,
    json
  }

  @Command(
      name = "export",
      mixinStandardHelpOptions = true,
      description = "Export an account's usage records (one per request: tokens by kind, price version, exact cost, outcome).")
  static final class Export implements Callable<Integer> {
    @ParentCommand AdminUsageCommand parent;

    @Option(names = "--account", required = true, description = "Account id.")
    String account;

    @Option(names = "--from", description = "Start, inclusive: ISO-8601 instant, date (UTC) or Unix seconds (default: 30 days before --to).")
    @Nullable String from;

    @Option(names = "--to", description = "End, exclusive, in the same forms (default: now).")
    @Nullable String to;

    @Option(names = "--format", defaultValue = "csv", description = "csv or json (default: ${DEFAULT-VALUE}).")
    Format format = Format.csv;

    @Option(names = "--out", description = "File to write (default: standard output). Written whole or not at all.")
    @Nullable Path outFile;

    @Option(names = "--page-size", defaultValue = "10000", hidden = true, description = "Records per API call, 1 to 10000.")
    int pageSize = 10_000;

    private final ObjectMapper json = new ObjectMapper();

    @Override
    public Integer call() {
      AdminCommand admin = parent.admin;
      String token = token(admin);
      if (token == null) {
        admin.err.println("jevons admin: no admin token: set JEVONS_ADMIN_TOKEN, pass --token, or run where "
            + admin.dataDir.resolve("admin-token") + " exists");
        return 2;
      }
      if (pageSize < 1 || pageSize > 10_000) {
        admin.err.println("jevons admin usage export: --page-size must be 1 to 10000");
        return 2;
      }
      String end = to != null ? to : Instant.now().toString();
      Path tmp = null;
      try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
        OutputStream sink;
        if (outFile != null) {
          Path dir = outFile.toAbsolutePath().getParent();
          tmp = Files.createTempFile(dir, "." + outFile.getFileName(), ".part");
          sink = Files.newOutputStream(tmp);
        } else {
          sink = new NonClosing(admin.out);
        }
        long written;
        try (sink) {
          written = export(client, admin, token, end, sink);
        }
        if (tmp != null) {
          Files.move(tmp, outFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
          tmp = null;
          admin.err.println("exported " + written + " usage records of " + account + " to " + outFile);
        }
        return 0;
      } catch (ExportFailed e) {
        admin.err.println("jevons admin: " + e.getMessage());
        return 1;
      } catch (ConnectException e) {
        admin.err.println("jevons admin: cannot connect to " + admin.url + " (is 'jevons serve' running? set --url or JEVONS_URL)");
        return 1;
      } catch (IOException | UncheckedIOException e) {
        admin.err.println("jevons admin: " + e.getMessage());
        return 1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 1;
      } finally {
        if (tmp != null) {
          try {
            Files.deleteIfExists(tmp);
          } catch (IOException ignored) {
            // best effort: a leftover .part file is harmless
          }
        }
      }
    }

    /** Writes every record of the range to {@code sink}; answers how many. */
    private long export(HttpClient client, AdminCommand admin, String token, String end, OutputStream sink)
        throws IOException, InterruptedException {
      String after = null;
      long count = 0;
      Writer csv = null;
      JsonGenerator gen = null;
      if (format == Format.csv) {
        csv = new BufferedWriter(new OutputStreamWriter(sink, StandardCharsets.UTF_8));
      } else {
        gen = json.getFactory().createGenerator(sink, JsonEncoding.UTF8);
        gen.writeStartObject();
        gen.writeStringField("object", "list");
        gen.writeStringField("account", account);
        gen.writeArrayFieldStart("data");
      }
      while (true) {
        Page page = fetch(client, admin, token, end, after);
        if (csv != null && after == null) {
          csv.write(page.header);
          csv.write('\n');
        }
        for (Row row : page.rows) {
          if (csv != null) {
            csv.write(row.csvLine);
            csv.write('\n');
          } else {
            gen.writeTree(row.json);
          }
          count++;
          after = row.id;
        }
        if (!page.more) {
          break;
        }
        if (page.rows.isEmpty()) {
          throw new ExportFailed("the usage API said there is more but sent no records");
        }
      }
      if (csv != null) {
        csv.flush();
      } else {
        gen.writeEndArray();
        gen.writeBooleanField("has_more", false);
        gen.writeEndObject();
        gen.flush();
        sink.write('\n');
      }
      return count;
    }

    private record Row(String id, @Nullable String csvLine, @Nullable JsonNode json) {}

    private record Page(String header, List<Row> rows, boolean more) {}

    private Page fetch(HttpClient client, AdminCommand admin, String token, String end, @Nullable String after)
        throws IOException, InterruptedException {
      StringBuilder q = new StringBuilder("?to=").append(enc(end)).append("&limit=").append(pageSize);
      if (from != null) {
        q.append("&from=").append(enc(from));
      }
      if (after != null) {
        q.append("&after=").append(enc(after));
      }
      HttpRequest req =
          HttpRequest.newBuilder(URI.create(admin.url.replaceAll("/+$", "") + "/admin/v1/accounts/" + enc(account) + "/usage" + q))
              .timeout(Duration.ofSeconds(60))
              .header("Authorization", "Bearer " + token)
              .header("Accept", format == Format.csv ? "text/csv" : "application/json")
              .GET()
              .build();
      HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString());
      if (res.statusCode() >= 400) {
        String msg = res.body();
        try {
          msg = json.readTree(res.body()).path("error").path("message").asText(res.body());
        } catch (IOException e) {
          // not JSON: the body as it came
        }
        throw new ExportFailed("HTTP " + res.statusCode() + ": " + msg);
      }
      List<Row> rows = new ArrayList<>();
      if (format == Format.csv) {
        List<String> lines = res.body().lines().toList();
        if (lines.isEmpty()) {
          throw new ExportFailed("the usage answer had no CSV header");
        }
        for (String line : lines.subList(1, lines.size())) {
          // The id, the first column, never needs quoting.
          int a = line.indexOf(',');
          if (a <= 0) {
            throw new ExportFailed("unexpected CSV row in the usage answer: " + line);
          }
          rows.add(new Row(line.substring(0, a), line, null));
        }
        return new Page(lines.get(0), rows, res.headers().firstValue("X-Jevons-Truncated").orElse("").equals("true"));
      }
      JsonNode root = json.readTree(res.body());
      for (JsonNode r : root.path("data")) {
        rows.add(new Row(r.path("id").asText(), null, r));
      }
      return new Page("", rows, root.path("has_more").asBoolean(false));
    }

    /** The admin token as {@code jevons admin} finds it: --token, $JEVONS_ADMIN_TOKEN, else DATA/admin-token. */
    private static @Nullable String token(AdminCommand admin) {
      if (admin.token != null && !admin.token.isBlank()) {
        return admin.token;
      }
      try {
        return Files.readString(admin.dataDir.resolve("admin-token"), StandardCharsets.UTF_8).trim();
      } catch (IOException e) {
        return null;
      }
    }

    private static String enc(String s) {
      return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
  }

  private static final class ExportFailed extends IOException {
    ExportFailed(String message) {
      super(message);
    }
  }

  /** Standard output stays open after the export. */
  private static final class NonClosing extends java.io.FilterOutputStream {
    NonClosing(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }
}

package dev.jevons.gateway;

/** The OpenAI-compatible generation endpoints, with their path below {@code /v1}. */
public enum Endpoint {
  CHAT("/chat/completions", "chat.completion.chunk"),
  COMPLETIONS("/completions", "text_completion");

  private final String path;
  private final String chunkObject;

  Endpoint(String path, String chunkObject) {
    this.path = path;
    this.chunkObject = chunkObject;
  }

  public String path() {
    return path;
  }

  String chunkObject() {
    return chunkObject;
  }
}

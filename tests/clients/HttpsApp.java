// HttpsApp.java - an unmodified-style Java program that asks an
// OpenAI-compatible chat API one question with java.net.http.HttpClient
// (Java's own TLS, JSSE: no OpenSSL at all), the key from OPENAI_API_KEY,
// trusting what the JVM trusts.  Run as a single source file:
//   java HttpsApp.java URL MODEL
// Prints "<status> <model of the answer>" (or "<status> error <message>");
// exits 0 only for a 200 with choices, 1 otherwise, 2 if no answer came.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class HttpsApp {
    public static void main(String[] a) {
        String body = "{\"model\": \"" + a[1] + "\", \"temperature\": 0, "
            + "\"messages\": [{\"role\": \"user\", \"content\": \"hello from java\"}]}";
        HttpResponse<String> r;
        try {
            HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(20)).build();
            HttpRequest q = HttpRequest.newBuilder(URI.create(a[0])).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + System.getenv().getOrDefault("OPENAI_API_KEY", ""))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            r = c.send(q, HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            System.out.println("0 error " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.exit(2);
            return;
        }
        String d = r.body();
        Matcher err = Pattern.compile("\"error\"\\s*:\\s*\\{[^}]*\"message\"\\s*:\\s*\"([^\"]*)\"").matcher(d);
        if (err.find()) {
            System.out.println(r.statusCode() + " error " + err.group(1));
            System.exit(1);
        }
        Matcher m = Pattern.compile("\"model\"\\s*:\\s*\"([^\"]*)\"").matcher(d);
        System.out.println(r.statusCode() + " " + (m.find() ? m.group(1) : "none"));
        System.exit(r.statusCode() == 200 && d.contains("\"choices\"") ? 0 : 1);
    }
}

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

// Counter writes a count into the file named by its argument ten times a
// second, from a thread of its own while main waits on it: the JVM the
// CRIU tests dump and restore.
public class Counter {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        Thread counter = new Thread(() -> {
            for (long i = 1; ; i++) {
                try {
                    Files.writeString(out, i + "\n");
                    Thread.sleep(100);
                } catch (IOException | InterruptedException e) {
                    System.exit(1);
                }
            }
        }, "counter");
        counter.start();
        counter.join();
    }
}

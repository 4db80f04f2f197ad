// Java's own reading of a properties file, for the reader's unit tests
// (tests/unit/flume_properties_test.cpp): java.util.Properties.load on a
// UTF-8 Reader, as Flume reads flume.conf. Prints one line per property,
// "key=value", sorted, every char outside printable ASCII (and `\`, `=`)
// as backslash-u and four hex digits of its UTF-16 units, or "ERROR" when Java refuses the file.
// Run by generate.sh.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class Dump {
  static String esc(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c >= 0x20 && c < 0x7f && c != '\\' && c != '=')
        b.append(c);
      else
        b.append(String.format("\\u%04x", (int) c));
    }
    return b.toString();
  }

  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    try (Reader r = new InputStreamReader(new FileInputStream(args[0]),
                                          StandardCharsets.UTF_8)) {
      p.load(r);
    } catch (IllegalArgumentException e) {
      System.out.println("ERROR");
      return;
    }
    List<String> lines = new ArrayList<>();
    for (String k : p.stringPropertyNames())
      lines.add(esc(k) + "=" + esc(p.getProperty(k)));
    Collections.sort(lines);
    for (String l : lines) System.out.println(l);
  }
}

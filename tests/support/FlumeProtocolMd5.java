// Flume's protocol as Java makes it, for e2e.avro_java_protocol: Avro's
// own IDL compiler (Debian's libavro-compiler-java) reads Flume's
// flume.avdl, the text is parsed back as Flume's generated
// AvroSourceProtocol.PROTOCOL is, and its MD5 (what a Java client sends in
// its handshake) is printed in hex.
import java.io.File;
import org.apache.avro.Protocol;
import org.apache.avro.compiler.idl.Idl;

public class FlumeProtocolMd5 {
  public static void main(String[] args) throws Exception {
    Protocol p = Protocol.parse(new Idl(new File(args[0])).CompilationUnit().toString());
    StringBuilder hex = new StringBuilder();
    for (byte b : p.getMD5()) hex.append(String.format("%02x", b));
    System.out.println(hex);
  }
}

// Checks XML files against XML Schemas with the JDK's own validator (no other dependency):
//   java tools/validators/XsdCheck.java SCHEMA[,SCHEMA...] FILE...
// Prints one line per problem as "FILE:LINE:COLUMN: message" and exits 1 if there was any.
import java.io.File;
import javax.xml.XMLConstants;
import javax.xml.transform.Source;
import javax.xml.transform.stream.StreamSource;
import javax.xml.validation.Schema;
import javax.xml.validation.SchemaFactory;
import javax.xml.validation.Validator;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXParseException;

public class XsdCheck {
    public static void main(String[] args) throws Exception {
        String[] names = args[0].split(",");
        Source[] sources = new Source[names.length];
        for (int i = 0; i < names.length; i++) {
            sources[i] = new StreamSource(new File(names[i]));
        }
        SchemaFactory factory = SchemaFactory.newInstance(XMLConstants.W3C_XML_SCHEMA_NS_URI);
        factory.setProperty(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        Schema schema = factory.newSchema(sources);
        int[] problems = {0};
        for (int i = 1; i < args.length; i++) {
            String file = args[i];
            Validator validator = schema.newValidator();
            validator.setProperty(XMLConstants.ACCESS_EXTERNAL_DTD, "");
            validator.setProperty(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
            validator.setErrorHandler(new ErrorHandler() {
                private void report(SAXParseException e) {
                    problems[0]++;
                    System.out.println(file + ":" + e.getLineNumber() + ":" + e.getColumnNumber()
                        + ": " + e.getMessage());
                }
                public void warning(SAXParseException e) { }
                public void error(SAXParseException e) { report(e); }
                public void fatalError(SAXParseException e) { report(e); }
            });
            try {
                validator.validate(new StreamSource(new File(file)));
            } catch (SAXParseException e) {
                // reported by the handler
            }
        }
        System.exit(problems[0] == 0 ? 0 : 1);
    }
}

package android.content;

/** Stand-in for android.content.ActivityNotFoundException (API 35), unchecked as the real one. */
@SuppressWarnings("serial") // the real class declares no serialVersionUID either
public class ActivityNotFoundException extends RuntimeException {
    public ActivityNotFoundException() {}

    public ActivityNotFoundException(String name) {
        super(name);
    }
}

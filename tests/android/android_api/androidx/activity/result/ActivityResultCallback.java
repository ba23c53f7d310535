package androidx.activity.result;

/** Stand-in for androidx.activity.result.ActivityResultCallback (activity 1.9.3, fun interface). */
public interface ActivityResultCallback<O> {
    void onActivityResult(O result);
}

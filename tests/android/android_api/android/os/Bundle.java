package android.os;

/** Stand-in for android.os.Bundle (API 35). */
public final class Bundle extends BaseBundle {
    public Bundle() {}

    public void putParcelable(String key, Parcelable value) {}
}

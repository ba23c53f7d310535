package android.os;

/** Stand-in for android.os.Parcelable (API 35): a type only, the app calls none of it. */
public interface Parcelable {}

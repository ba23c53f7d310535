package android.net;

import android.os.Parcelable;

/** Stand-in for android.net.Uri (API 35): Parcelable, so a Bundle takes it. */
public abstract class Uri implements Parcelable {
    private Uri() {}

    public abstract String getLastPathSegment();
}

package android.widget;

import android.content.Context;
import android.util.AttributeSet;
import android.view.View;

/** Stand-in for android.widget.TextView (API 35). */
public class TextView extends View {
    public TextView(Context context, AttributeSet attrs) {
        super(context, attrs);
    }

    public final void setText(CharSequence text) {}

    public final void setText(int resid) {}

    public void setTextColor(int color) {}

    public final int getCurrentTextColor() {
        throw new UnsupportedOperationException("stand-in");
    }
}

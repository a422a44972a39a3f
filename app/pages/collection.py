import streamlit as st
st.info("coming")
